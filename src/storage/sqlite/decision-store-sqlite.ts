import { type DecisionFacts, type FactsScanOptions, slotsForReward } from "../../decisions/decision-facts.js";
import type {
  DecisionRecord,
  DecisionWithRewards,
  RewardOutcome,
  RewardRecord,
  StoredReward,
} from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import { classifyReward } from "../../decisions/reward-join.js";
import { outcomeOf } from "../memory/decision-store-memory.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionFacts } from "./decision-facts-sqlite.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  decision_id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  activated INTEGER NOT NULL,
  activated_at INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);
CREATE TABLE IF NOT EXISTS rewards (
  reward_id TEXT PRIMARY KEY,
  decision_id TEXT NOT NULL REFERENCES decisions(decision_id),
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  item_id TEXT,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  late INTEGER NOT NULL,
  ignored INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rewards_decision ON rewards(decision_id);
`;

interface DecisionRow {
  seq: number;
  decision_id: string;
  activated: number;
  activated_at: number | null;
  body: string;
}

interface RewardRow {
  reward_id: string;
  decision_id: string;
  ts: number;
  value: number;
  item_id: string | null;
  type: string;
  source: string;
  late: number;
  ignored: number;
}

/**
 * The decision log in SQLite. The record body is JSON (read whole by `scan`: export, learning, OPE with
 * context-dependent targets); the columns that queries filter on are real columns. Activation and
 * rewards are separate rows/columns so the body is written once and never rewritten. The narrow facts
 * OPE reads as columns (`scanFacts`) are sealed into columnar blocks every 512 appends, with sparse
 * overlays for later activations and counted rewards (decision-facts-sqlite.ts).
 * Log order is (timestamp, rowid): ties keep append order, as in the memory store.
 */
export class SqliteDecisionStore implements DecisionStore {
  private readonly stmts;
  private readonly facts: SqliteDecisionFacts;

  /** @param options.factsBlockSize decisions per sealed facts block (small values are for tests). */
  constructor(
    private readonly store: SqliteStore,
    options: { factsBlockSize?: number } = {},
  ) {
    store.migrate(SCHEMA);
    const db = store.db;
    this.facts = new SqliteDecisionFacts(db, options.factsBlockSize);
    this.stmts = {
      insert: db.prepare(
        "INSERT INTO decisions (decision_id, ts, user_id, policy_id, activated, activated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      get: db.prepare(
        "SELECT rowid AS seq, decision_id, activated, activated_at, body FROM decisions WHERE decision_id = ?",
      ),
      activate: db.prepare(
        "UPDATE decisions SET activated = 1, activated_at = ? WHERE decision_id = ? AND activated = 0",
      ),
      exists: db.prepare("SELECT rowid FROM decisions WHERE decision_id = ?").pluck(),
      rewardExists: db.prepare("SELECT 1 FROM rewards WHERE reward_id = ?").pluck(),
      insertReward: db.prepare(
        "INSERT INTO rewards (reward_id, decision_id, ts, value, item_id, type, source, late, ignored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      rewardsOf: db.prepare("SELECT * FROM rewards WHERE decision_id = ? ORDER BY ts, rowid"),
      count: db.prepare("SELECT count(*) FROM decisions WHERE ts >= ? AND ts < ?").pluck(),
    };
  }

  async append(record: DecisionRecord): Promise<void> {
    const fresh = new Map<string, number>();
    await this.store.committer.write(() => this.insert(record, fresh));
    this.facts.remember(fresh);
  }

  /**
   * Appends many decisions in one transaction (imports, benchmarks): all or none. Not on the port;
   * `append` is the durable one-by-one path the engine uses.
   */
  async appendMany(records: readonly DecisionRecord[]): Promise<void> {
    const fresh = new Map<string, number>();
    await this.store.committer.write(() => {
      for (const record of records) this.insert(record, fresh);
    });
    this.facts.remember(fresh);
  }

  private insert(record: DecisionRecord, fresh: Map<string, number>): void {
    const info = this.stmts.insert.run(
      record.decisionId,
      record.timestamp,
      record.userId,
      record.policy.id,
      record.activated ? 1 : 0,
      record.activatedAt ?? null,
      JSON.stringify(record),
    );
    this.facts.appended(Number(info.lastInsertRowid), fresh);
  }

  async get(decisionId: string): Promise<DecisionWithRewards | undefined> {
    const row = this.stmts.get.get(decisionId) as DecisionRow | undefined;
    if (!row) return undefined;
    return { decision: toDecision(row), rewards: (this.stmts.rewardsOf.all(decisionId) as RewardRow[]).map(toReward) };
  }

  activate(decisionId: string, at: number): Promise<boolean> {
    return this.store.committer.write(() => {
      const seq = this.stmts.exists.get(decisionId) as number | undefined;
      if (seq === undefined) return false;
      if (this.stmts.activate.run(at, decisionId).changes === 1) this.facts.activated(seq, at);
      return true;
    });
  }

  addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    return this.store.committer.write(() => {
      const row = this.stmts.get.get(reward.decisionId) as DecisionRow | undefined;
      if (!row) return undefined;
      if (this.stmts.rewardExists.get(reward.rewardId)) return "duplicate";
      const decision = toDecision(row);
      const flags = classifyReward(decision, reward.timestamp, windowMs);
      const info = this.stmts.insertReward.run(
        reward.rewardId,
        reward.decisionId,
        reward.timestamp,
        reward.value,
        reward.itemId ?? null,
        reward.type,
        reward.source,
        flags.late ? 1 : 0,
        flags.ignored ? 1 : 0,
      );
      if (!flags.late && !flags.ignored) {
        const slots = slotsForReward(decision, reward.itemId);
        this.facts.rewarded(row.seq, slots, reward, Number(info.lastInsertRowid));
      }
      return outcomeOf(flags);
    });
  }

  async *scan(options: { from?: number; to?: number; batchSize?: number } = {}): AsyncIterable<DecisionWithRewards[]> {
    const limit = options.batchSize ?? 2000;
    const page = this.store.db.prepare(
      `SELECT rowid AS seq, decision_id, ts, activated, activated_at, body FROM decisions
       WHERE (ts > @ts OR (ts = @ts AND rowid > @seq)) AND ts < @to ORDER BY ts, rowid LIMIT @limit`,
    );
    const rewardsIn = this.store.db.prepare(
      `SELECT r.* FROM rewards r JOIN decisions d ON d.decision_id = r.decision_id
       WHERE (d.ts > @ts OR (d.ts = @ts AND d.rowid > @seq)) AND d.ts <= @lastTs ORDER BY r.ts, r.rowid`,
    );
    const params = {
      ts: options.from ?? Number.MIN_SAFE_INTEGER,
      seq: Number.MIN_SAFE_INTEGER,
      to: options.to ?? Number.MAX_SAFE_INTEGER,
      limit,
    };
    for (;;) {
      const rows = page.all(params) as (DecisionRow & { ts: number })[];
      if (rows.length === 0) return;
      const last = rows[rows.length - 1] as DecisionRow & { ts: number };
      // One query for the page's rewards instead of one per decision.
      const byDecision = new Map<string, StoredReward[]>();
      for (const r of rewardsIn.all({ ts: params.ts, seq: params.seq, lastTs: last.ts }) as RewardRow[]) {
        const list = byDecision.get(r.decision_id);
        if (list) list.push(toReward(r));
        else byDecision.set(r.decision_id, [toReward(r)]);
      }
      yield rows.map((row) => ({ decision: toDecision(row), rewards: byDecision.get(row.decision_id) ?? [] }));
      params.ts = last.ts;
      params.seq = last.seq;
      if (rows.length < limit) return;
    }
  }

  /** The narrow facts as columns (see decision-facts-sqlite.ts): no JSON is parsed. */
  scanFacts(options: FactsScanOptions = {}): AsyncIterable<DecisionFacts> {
    return this.facts.scan(options);
  }

  async count(options: { from?: number; to?: number } = {}): Promise<number> {
    return this.stmts.count.get(
      options.from ?? Number.MIN_SAFE_INTEGER,
      options.to ?? Number.MAX_SAFE_INTEGER,
    ) as number;
  }

  async close(): Promise<void> {}
}

function toDecision(row: DecisionRow): DecisionRecord {
  const record = JSON.parse(row.body) as DecisionRecord;
  record.activated = row.activated === 1;
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
    source: r.source as StoredReward["source"],
    late: r.late === 1,
    ignored: r.ignored === 1,
  };
  if (r.item_id !== null) out.itemId = r.item_id;
  return out;
}

export function openSqliteDecisionStore(path: string): { decisions: SqliteDecisionStore; store: SqliteStore } {
  const store = new SqliteStore(path);
  return { decisions: new SqliteDecisionStore(store), store };
}
