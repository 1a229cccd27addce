import type { DecisionFacts, FactsScanOptions } from "./decision-facts.js";
import type { DecisionRecord, DecisionWithRewards, RewardOutcome, RewardRecord } from "./decision-record.js";
import type { EncodedDecision } from "./log-ops.js";

/** How `DecisionStore.append` may acknowledge a record. */
export interface AppendOptions {
  /**
   * The caller made the decision id itself (core/ids.ts `newId`), so no other append carries it and the insert
   * cannot be refused as a duplicate: a store may acknowledge the record once it is durable in its journal, before
   * the log's commit (SQLite's decision journal: storage/sqlite/decision-journal.ts). Such a decision is readable with
   * `get` at once; scans and counts see it once committed (milliseconds later). Ids a client chose never set it.
   */
  freshId?: boolean;
}

/**
 * The decision log port. `append` resolves only once the record is durable (committed, or journaled: `freshId`);
 * readers see decisions with their rewards so the join can be computed at any time. A decision's rewards come in
 * arrival order (`receivedAt`, ties in log order): the reward join's order (reward-reducer.ts).
 */
export interface DecisionStore {
  /**
   * Logs a decision unless one with its id is logged already (atomic insert-or-keep: concurrent appends
   * of one id log exactly one). Resolves true when this record was logged, false when the existing one
   * was kept (read it with `get`).
   */
  append(record: DecisionRecord, options?: AppendOptions): Promise<boolean>;
  /**
   * Optional `append` of a record encoded already, for a caller that needs the bytes after the write too (the
   * stream publisher: one encoding for the log and the stream entry, app/stream-publisher.ts). A store offers
   * it only when it reads the bytes and leaves them intact (not the SQLite writer: it hands them to its thread).
   */
  appendEncoded?(decision: EncodedDecision): Promise<boolean>;
  get(decisionId: string): Promise<DecisionWithRewards | undefined>;
  /** Marks a deferred decision active. Returns false when it does not exist. */
  activate(decisionId: string, at: number): Promise<boolean>;
  /**
   * Stores a reward with its arrival time (`receivedAt`, else its `timestamp`) and the flags of
   * `storedReward`/`classifyReward` (decisions/reward-reducer.ts): a duplicate `rewardId` is refused
   * ("duplicate", nothing stored); one received at or after the window's end is kept but flagged late; one for
   * a decision not activated is kept but ignored. Returns undefined when the decision does not exist.
   */
  addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined>;
  /** Decisions with timestamp in [from, to), in timestamp order, with their rewards. */
  scan(options?: { from?: number; to?: number; batchSize?: number }): AsyncIterable<DecisionWithRewards[]>;
  /**
   * Optional narrow columnar scan for offline evaluation: the per-slot facts of decisions with timestamp
   * in [from, to) and their counted rewards, without parsing whole records (see decision-facts.ts).
   * Batches may come in append order; readers put them in log order with `inLogOrder`. Item and policy
   * codes are consistent within one scan. Adapters without it are read through `scan`.
   */
  scanFacts?(options?: FactsScanOptions): AsyncIterable<DecisionFacts>;
  count(options?: { from?: number; to?: number }): Promise<number>;
  close(): Promise<void>;
}
