import type { FactsSource } from "../../decisions/decision-facts.js";
import { type DecisionFacts, FactsBuilder } from "../../decisions/decision-facts.js";
import type { DecisionRecord, StoredReward } from "../../decisions/decision-record.js";
import { ByteWriter } from "./byte-io.js";
import type { SqliteDb } from "./database.js";
import { encodeFacts } from "./facts-codec.js";
import {
  type DecodeParts,
  decodeRecord,
  type EncodedDistributions,
  type RecordColumns,
  readFactsSource,
} from "./record-codec.js";

/**
 * The write side of the decision facts (decision-facts-sqlite.ts reads them): the log writer hands each
 * appended record here, in the append's transaction, and the facts of the unsealed decisions accumulate
 * in memory; once `blockSize` have accumulated they are sealed into one columnar block (`sealDue`, after
 * the batch was acknowledged). Nothing is read
 * back from the log for that (the old path re-parsed the last 512 JSON bodies inside a request's
 * transaction). The unsealed tail is read from the log once, when the writer starts.
 *
 * Item and policy ids are coded per block while accumulating and mapped to the global codes
 * (`decision_codes`) at sealing; codes learnt by a seal are cached once its transaction committed.
 * One writer per database: it assumes the decisions after the last block are the ones it accumulated.
 */
export class FactsWriter {
  private readonly stmts;
  private readonly codes = new Map<string, number>();
  /** Made at the first `reset` (its id coder reads this writer's per-block maps), then only cleared. */
  private builder!: FactsBuilder;
  private local = new Map<string, number>();
  private ids: string[] = [];
  /** Set when accumulated state may disagree with the database (a failed append): reloaded after the batch. */
  private dirty = false;
  /**
   * The accumulated decisions' distributions as their records hold them (readFactsSource copies them here):
   * the sealed block's packed column, copied instead of coded again. Cleared with the builder.
   */
  readonly distributions: EncodedDistributions = { out: new ByteWriter(1 << 16), slots: 0, complete: true };

  constructor(
    private readonly db: SqliteDb,
    readonly blockSize = 512,
  ) {
    this.stmts = {
      code: db.prepare("SELECT code FROM decision_codes WHERE value = ?").pluck(),
      addCode: db.prepare("INSERT OR IGNORE INTO decision_codes (value) VALUES (?)"),
      sealed: db.prepare("SELECT coalesce(max(last_seq), 0) FROM decision_facts_blocks").pluck(),
      tail: db.prepare(
        "SELECT rowid, ts, policy_id, activated, activated_at, record FROM decisions WHERE rowid > ? ORDER BY rowid LIMIT 1000",
      ),
      block: db.prepare(
        "INSERT INTO decision_facts_blocks (first_seq, last_seq, min_ts, max_ts, decisions, facts) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      activation: db.prepare("INSERT OR IGNORE INTO decision_activations (seq, at) VALUES (?, ?)"),
      reward: db.prepare("INSERT INTO slot_rewards (seq, slot, ts, arrival, value) VALUES (?, ?, ?, ?, ?)"),
    };
    this.reset();
  }

  private reset(): void {
    this.local = new Map();
    this.ids = [];
    this.distributions.out.clear();
    this.distributions.slots = 0;
    this.distributions.complete = true;
    // One builder for the writer's life, cleared per block (its distributions' buffer is kept: decision-facts.ts).
    this.builder ??= new FactsBuilder((id) => {
      let c = this.local.get(id);
      if (c === undefined) {
        c = this.ids.length;
        this.local.set(id, c);
        this.ids.push(id);
      }
      return c;
    });
    this.builder.clear();
  }

  /** Accumulates the decisions after the last sealed block (at start, and after a rolled-back batch). */
  load(): void {
    this.reset();
    this.dirty = false;
    let after = this.stmts.sealed.get() as number;
    for (;;) {
      const rows = this.stmts.tail.all(after) as TailRow[];
      for (const row of rows) {
        this.builder.add(factsOfRow(row, this.distributions), row.rowid);
        this.sealDue(); // a migrated log is sealed block by block, never held whole
      }
      if (rows.length < 1000) break;
      after = (rows[rows.length - 1] as TailRow).rowid;
    }
  }

  /**
   * Decision `seq` was inserted (in the current transaction) as `bytes` with `columns`: its facts, read from the
   * bytes (record-codec.ts `readFactsSource`). While every distribution of the block is copied as the facts hold
   * it (`distributions.complete`), their values are not decoded: the sealed block takes the copies, never the
   * values column (`copiedDistributions`). A record that ends that (JSON slots, version 1, a distribution of
   * another length than the candidates: none that rank writes) leaves the block's earlier decisions without
   * values, so they are accumulated again from the log, with values, once the batch committed.
   */
  append(bytes: Uint8Array, columns: RecordColumns, seq: number): void {
    const copying = this.distributions.complete;
    this.appended(readFactsSource(bytes, columns, this.distributions, !copying), seq);
    if (copying && !this.distributions.complete) this.dirty = true;
  }

  /** Decision `seq` was inserted (in the current transaction) with the state in `record`. */
  appended(record: FactsSource, seq: number): void {
    try {
      this.builder.add(record, seq);
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }

  /** A deferred decision was activated after its append: a sparse overlay on its block. */
  activated(seq: number, at: number): void {
    this.stmts.activation.run(seq, at);
  }

  /**
   * A counted reward (not late, not ignored) for the slots it matches. `slot_rewards.ts` holds its server
   * arrival time (`receivedAt`) and `arrival` its `rewards` rowid: the join's order (reward-reducer.ts).
   */
  rewarded(seq: number, slots: readonly number[], reward: Pick<StoredReward, "receivedAt" | "value">, arrival: number) {
    for (const k of slots) this.stmts.reward.run(seq, k, reward.receivedAt, arrival, reward.value);
  }

  /**
   * An op of the batch failed and its savepoint rolled back: what it accumulated (a bulk append's first
   * decisions) is not in the log, so the facts are accumulated again from the log once the batch committed.
   */
  invalidate(): void {
    this.dirty = true;
  }

  /** The batch committed: after a failed append, accumulate again from the log (the truth). */
  committed(): void {
    if (this.dirty) this.load();
  }

  /** The batch rolled back: forget what it accumulated. */
  rolledBack(): void {
    this.load();
  }

  /**
   * Seals the accumulated decisions when a block is due, in a transaction of its own: the log writer
   * calls it after acknowledging a batch, so no append waits for a block (~4 MB) to be written. A
   * failed seal keeps the decisions accumulated (the next call retries); a crash before it loses
   * nothing (`load` accumulates the unsealed decisions again). True when it sealed a block.
   * One row, not parts written between commits as policy snapshots are: a seal held the writer's thread
   * 2.0-2.9 ms in steady state (bench/support/writer-tail.ts, load 10: finishing the builder and coding ids
   * ~0.8 ms, encoding 0.2, the ~770 KB INSERT 0.4-0.8, the commit 0.7), once per 512 decisions; in parts,
   * each part's commit would cost about what the whole INSERT does.
   */
  sealDue(): boolean {
    if (this.builder.size < this.blockSize) return false;
    const learnt = new Map<string, number>();
    try {
      this.db.transaction(() => this.seal(learnt))();
    } catch {
      return false;
    }
    for (const [id, c] of learnt) this.codes.set(id, c);
    this.reset();
    return true;
  }

  private seal(learnt: Map<string, number>): void {
    const facts = this.builder.finish();
    const global = Int32Array.from(this.ids, (id) => this.code(id, learnt));
    for (const column of [facts.policy, facts.candidates, facts.item]) {
      for (let i = 0; i < column.length; i++) column[i] = global[column[i] as number] as number;
    }
    const [lo, hi] = timeRange(facts);
    const first = facts.seq[0] as number;
    const last = facts.seq[facts.decisions - 1] as number;
    this.stmts.block.run(first, last, lo, hi, facts.decisions, encodeFacts(facts, this.copiedDistributions(facts)));
  }

  /** The copied distributions when they are exactly the block's (every slot with one, none else). */
  private copiedDistributions(facts: DecisionFacts): Uint8Array | undefined {
    const { out, slots, complete } = this.distributions;
    if (!complete) return undefined;
    let has = 0;
    for (const h of facts.hasProbabilities) has += h;
    return has === slots ? out.written() : undefined;
  }

  private code(id: string, learnt: Map<string, number>): number {
    const known = this.codes.get(id) ?? learnt.get(id);
    if (known !== undefined) return known;
    this.stmts.addCode.run(id);
    const c = this.stmts.code.get(id) as number;
    learnt.set(id, c);
    return c;
  }
}

interface TailRow {
  rowid: number;
  ts: number;
  policy_id: string;
  activated: number;
  activated_at: number | null;
  record: Uint8Array;
}

/** A row's facts, read from its record's bytes with the row's columns (record-codec.ts `readFactsSource`). */
function factsOfRow(row: TailRow, encoded: EncodedDistributions): FactsSource {
  const columns = { timestamp: row.ts, policyId: row.policy_id, activated: row.activated === 1 };
  return readFactsSource(row.record, { ...columns, activatedAt: row.activated_at }, encoded);
}

/** The record with the activation state of its row (the columns are the truth once activated later). */
export function recordOfRow(
  row: Pick<TailRow, "activated" | "activated_at" | "record">,
  parts: DecodeParts = { candidateFeatures: false },
): DecisionRecord {
  const record = decodeRecord(row.record, parts);
  record.activated = row.activated === 1;
  if (row.activated_at !== null) record.activatedAt = row.activated_at;
  return record;
}

function timeRange(facts: DecisionFacts): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const t of facts.timestamp) {
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return [lo, hi];
}
