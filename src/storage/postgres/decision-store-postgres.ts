import {
  codeDictionary,
  type DecisionFacts,
  FactsBuilder,
  type FactsScanOptions,
} from "../../decisions/decision-facts.js";
import type {
  DecisionRecord,
  DecisionWithRewards,
  RewardOutcome,
  RewardRecord,
  StoredReward,
} from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import type { EncodedDecision } from "../../decisions/log-ops.js";
import { encodeDecision } from "../sqlite/decision-store-sqlite.js";
import { type DecodeParts, decodeRecord } from "../sqlite/record-codec.js";
import { query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

interface DecisionRow {
  seq: number;
  decision_id: string;
  ts: number;
  activated: boolean;
  activated_at: number | null;
  record: Buffer;
}

interface RewardRow {
  reward_id: string;
  decision_id: string;
  ts: number;
  value: number;
  item_id: string | null;
  type: string;
  source: string;
  late: boolean;
  ignored: boolean;
  received_at: number;
}

const DECISION_COLUMNS = "seq, decision_id, ts, activated, activated_at, record";

/**
 * The decision log on PostgreSQL. Writes go through the store's group-commit writer (pg-log-writer.ts,
 * SQL in log-statements.ts) and resolve after COMMIT; reads use the pool. The record is the compact binary
 * of record-codec.ts (the SQLite format) in bytea; activation and rewards are columns and rows of their
 * own, so a record is written once. Log order is (ts, seq): ties keep append order.
 */
export class PostgresDecisionStore implements DecisionStore {
  constructor(private readonly store: PostgresConnection) {}

  /** Resolves true once committed; false when a decision with its id was logged first (on any node). */
  append(record: DecisionRecord): Promise<boolean> {
    return this.appendEncoded(encodeDecision(record));
  }

  /** `append` of encoded bytes; they go out as a query parameter and stay intact (the stream entry shares them). */
  appendEncoded(decision: EncodedDecision): Promise<boolean> {
    return this.store.writer.write({ kind: "decision", decision });
  }

  /** Many decisions in one transaction, all or none (imports, benchmarks). Not on the port. */
  async appendMany(records: readonly DecisionRecord[]): Promise<void> {
    await this.store.writer.write({ kind: "decisions", decisions: records.map(encodeDecision) });
  }

  async get(decisionId: string): Promise<DecisionWithRewards | undefined> {
    // The id table gives the decision's day: the lookup touches one partition (pruned at run time).
    const { rows } = await query<DecisionRow>(
      this.store.pool,
      `SELECT ${DECISION_COLUMNS} FROM decisions
       WHERE decision_id = $1 AND ts = (SELECT ts FROM decision_ids WHERE decision_id = $1)`,
      [decisionId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const rewards = await this.rewardsOf([decisionId], row.ts, row.ts);
    return { decision: toDecision(row), rewards: rewards.get(decisionId) ?? [] };
  }

  activate(decisionId: string, at: number): Promise<boolean> {
    return this.store.writer.write({ kind: "activate", decisionId, at });
  }

  addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    return this.store.writer.write({ kind: "reward", reward, windowMs });
  }

  async *scan(options: { from?: number; to?: number; batchSize?: number } = {}): AsyncIterable<DecisionWithRewards[]> {
    for await (const { rows, rewards } of this.pages(options, options.batchSize ?? 2000)) {
      yield rows.map((row) => ({ decision: toDecision(row), rewards: rewards.get(row.decision_id) ?? [] }));
    }
  }

  /**
   * The narrow facts for offline evaluation, built from the records as they are read (FactsBuilder, as
   * the memory store does; ids coded per scan). SQLite keeps pre-sealed columnar blocks instead; here the
   * decode skips candidate features, the bulk of a record.
   */
  async *scanFacts(options: FactsScanOptions = {}): AsyncIterable<DecisionFacts> {
    const code = codeDictionary();
    for await (const { rows, rewards } of this.pages(options, 5000)) {
      const builder = new FactsBuilder(code);
      for (const row of rows) builder.add(toDecision(row, FACTS_PARTS), row.seq, rewards.get(row.decision_id));
      yield builder.finish();
    }
  }

  /** Keyset pages on (ts, seq) with their rewards: stable under concurrent appends, no OFFSET rescans. */
  private async *pages(options: { from?: number; to?: number }, limit: number) {
    let ts = options.from ?? Number.MIN_SAFE_INTEGER;
    let seq = Number.MIN_SAFE_INTEGER;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const { rows } = await query<DecisionRow>(
        this.store.pool,
        `SELECT ${DECISION_COLUMNS} FROM decisions WHERE (ts, seq) > ($1, $2) AND ts >= $1 AND ts < $3
         ORDER BY ts, seq LIMIT $4`,
        [ts, seq, to, limit],
      );
      if (rows.length === 0) return;
      const last = rows[rows.length - 1] as DecisionRow;
      // Rows are in ts order: their rewards are in the partitions of [first ts, last ts].
      const rewards = await this.rewardsOf(
        rows.map((r) => r.decision_id),
        (rows[0] as DecisionRow).ts,
        last.ts,
      );
      yield { rows, rewards };
      ts = last.ts;
      seq = last.seq;
      if (rows.length < limit) return;
    }
  }

  /**
   * The stored rewards of some decisions logged between `fromTs` and `toTs` (inclusive), each list in arrival
   * order (receivedAt, then log order): one query per page, on the rewards partitions of those days only.
   */
  private async rewardsOf(decisionIds: string[], fromTs: number, toTs: number): Promise<Map<string, StoredReward[]>> {
    const { rows } = await query<RewardRow>(
      this.store.pool,
      `SELECT * FROM rewards WHERE decision_id = ANY($1) AND decision_ts >= $2 AND decision_ts <= $3
       ORDER BY received_at, seq`,
      [decisionIds, fromTs, toTs],
    );
    const out = new Map<string, StoredReward[]>();
    for (const r of rows) {
      const list = out.get(r.decision_id);
      if (list) list.push(toReward(r));
      else out.set(r.decision_id, [toReward(r)]);
    }
    return out;
  }

  async count(options: { from?: number; to?: number } = {}): Promise<number> {
    const { rows } = await query<{ n: number }>(
      this.store.pool,
      "SELECT count(*)::bigint AS n FROM decisions WHERE ts >= $1 AND ts < $2",
      [options.from ?? Number.MIN_SAFE_INTEGER, options.to ?? Number.MAX_SAFE_INTEGER],
    );
    return rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {}
}

/** What offline evaluation reads of a record: everything but the candidates' features. */
const FACTS_PARTS: DecodeParts = { candidateFeatures: false };

/** The record with its row's activation state (the columns are the truth once activated later). */
function toDecision(row: DecisionRow, parts: DecodeParts = {}): DecisionRecord {
  const record = decodeRecord(row.record, parts);
  record.activated = row.activated;
  if (row.activated_at !== null) record.activatedAt = row.activated_at;
  return record;
}

function toReward(r: RewardRow): StoredReward {
  const out: StoredReward = {
    rewardId: r.reward_id,
    decisionId: r.decision_id,
    value: r.value,
    type: r.type,
    timestamp: r.ts,
    receivedAt: r.received_at,
    source: r.source as StoredReward["source"],
    late: r.late,
    ignored: r.ignored,
  };
  if (r.item_id !== null) out.itemId = r.item_id;
  return out;
}
