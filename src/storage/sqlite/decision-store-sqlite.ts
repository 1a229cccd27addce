import type { DecisionFacts, FactsScanOptions } from "../../decisions/decision-facts.js";
import type {
  DecisionRecord,
  DecisionWithRewards,
  RewardOutcome,
  RewardRecord,
  StoredReward,
} from "../../decisions/decision-record.js";
import type { AppendOptions, DecisionStore } from "../../decisions/decision-store.js";
import { type OpenOptions, SqliteStore } from "./database.js";
import { SqliteDecisionFacts } from "./decision-facts-sqlite.js";
import { recordOfRow } from "./facts-writer.js";
import type { EncodedDecision } from "./log-ops.js";
import type { JournaledWrite } from "./log-writer.js";
import { encodeRecord } from "./record-codec.js";
import { storedRecord } from "./record-transit.js";

interface DecisionRow {
  seq: number;
  decision_id: string;
  activated: number;
  activated_at: number | null;
  record: Uint8Array;
}

interface RewardRow {
  reward_id: string;
  decision_id: string;
  ts: number;
  received_at: number;
  value: number;
  item_id: string | null;
  type: string;
  source: string;
  late: number;
  ignored: number;
}

/**
 * The decision log in SQLite. Records are compact binary (record-codec.ts), written by the log writer
 * (off the event loop for files: log-writer.ts) and read here on the main connection; the columns that
 * queries filter on are real columns. Activation and rewards are separate rows/columns so a record is
 * written once and never rewritten. The narrow facts OPE reads as columns (`scanFacts`) are sealed into
 * columnar blocks by the writer as records are appended (facts-writer.ts), read by decision-facts-sqlite.ts.
 * Log order is (timestamp, rowid): ties keep append order, as in the memory store.
 */
export class SqliteDecisionStore implements DecisionStore {
  private readonly stmts;
  private readonly facts: SqliteDecisionFacts;
  /**
   * Decisions acknowledged at their journal write whose commit has not landed yet, by id (`append`): their journaled
   * bytes, not the record. A record is an object graph of ~450 objects (candidates, features, distributions); kept
   * until its commit, each survived the young generation's collections and was promoted, which made those
   * collections 3-4 times longer at 1,000 req/s over HTTP than in process (measured with --trace-gc-nvp).
   */
  private readonly uncommitted = new Map<string, Uncommitted>();

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.facts = new SqliteDecisionFacts(db);
    this.stmts = {
      get: db.prepare(
        "SELECT rowid AS seq, decision_id, activated, activated_at, record FROM decisions WHERE decision_id = ?",
      ),
      rewardsOf: db.prepare("SELECT * FROM rewards WHERE decision_id = ? ORDER BY received_at, rowid"),
      count: db.prepare("SELECT count(*) FROM decisions WHERE ts >= ? AND ts < ?").pluck(),
    };
  }

  /**
   * Resolves true once the record is durable; false when a decision with its id was logged first. A fresh id
   * (`freshId`) with the decision journal, while the writer keeps up (log-writer.ts `journalKeepsUp`), is durable at
   * its journal write: resolved then, readable with `get` from `uncommitted` until its commit lands
   * (decision-journal.ts).
   */
  append(record: DecisionRecord, options?: AppendOptions): Promise<boolean> {
    const writer = this.store.writer;
    if (!options?.freshId || !writer.writeJournaled || !writer.journalKeepsUp?.()) {
      return writer.write({ kind: "decision", decision: transitDecision(record) });
    }
    let journaled: JournaledWrite;
    try {
      journaled = writer.writeJournaled(transitDecision(record));
    } catch (error) {
      return Promise.reject(error);
    }
    const id = record.decisionId;
    this.uncommitted.set(id, {
      bytes: journaled.bytes,
      activated: record.activated ? 1 : 0,
      activated_at: record.activatedAt ?? null,
    });
    // A failed commit leaves it durable in the journal, replayed at the next start (journal-replay.ts); the journal
    // counts it (/metrics), and the writer's failure shows in health().
    const forget = () => this.uncommitted.delete(id);
    journaled.committed.then(forget, forget);
    return Promise.resolve(true);
  }

  /**
   * Appends many decisions in one transaction (imports, benchmarks): all or none. Not on the port;
   * `append` is the durable one-by-one path the engine uses.
   */
  async appendMany(records: readonly DecisionRecord[]): Promise<void> {
    await this.store.writer.write({ kind: "decisions", decisions: records.map(transitDecision) });
  }

  async get(decisionId: string): Promise<DecisionWithRewards | undefined> {
    const row = this.stmts.get.get(decisionId) as DecisionRow | undefined;
    if (!row) {
      // Journaled and not yet committed: no reward can be stored before it (the writer commits in order).
      const journaled = this.uncommitted.get(decisionId);
      return journaled && { decision: asStored(journaled), rewards: [] };
    }
    return { decision: toDecision(row), rewards: (this.stmts.rewardsOf.all(decisionId) as RewardRow[]).map(toReward) };
  }

  activate(decisionId: string, at: number): Promise<boolean> {
    return this.store.writer.write({ kind: "activate", decisionId, at });
  }

  addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    return this.store.writer.write({ kind: "reward", reward, windowMs });
  }

  async *scan(options: { from?: number; to?: number; batchSize?: number } = {}): AsyncIterable<DecisionWithRewards[]> {
    const limit = options.batchSize ?? 2000;
    const page = this.store.db.prepare(
      `SELECT rowid AS seq, decision_id, ts, activated, activated_at, record FROM decisions
       WHERE (ts > @ts OR (ts = @ts AND rowid > @seq)) AND ts < @to ORDER BY ts, rowid LIMIT @limit`,
    );
    const rewardsIn = this.store.db.prepare(
      `SELECT r.* FROM rewards r JOIN decisions d ON d.decision_id = r.decision_id
       WHERE (d.ts > @ts OR (d.ts = @ts AND d.rowid > @seq)) AND d.ts <= @lastTs ORDER BY r.received_at, r.rowid`,
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

  /** The narrow facts as columns (see decision-facts-sqlite.ts): sealed blocks, no record decoded. */
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

/** A journaled decision not committed yet: its transit bytes (record-codec.ts) and activation, as its row will hold. */
interface Uncommitted {
  bytes: Uint8Array;
  activated: 0 | 1;
  activated_at: number | null;
}

/**
 * The record as its committed row will read: the transit bytes coded as the writer's thread codes them
 * (record-transit.ts), then decoded; on a read of a decision not committed yet (rare: a reward or GET within
 * milliseconds of the rank).
 */
function asStored(journaled: Uncommitted): DecisionRecord {
  return recordOfRow({ ...journaled, record: storedRecord(journaled.bytes) }, {});
}

function toDecision(row: DecisionRow): DecisionRecord {
  return recordOfRow(row, {});
}

/** A decision's row and its record's stored bytes (the decision stream and PostgreSQL store these). */
export function encodeDecision(record: DecisionRecord): EncodedDecision {
  return rowOf(record, encodeRecord(record));
}

/**
 * A decision's row with its record in the transit form (record-codec.ts), for this store's own log writer only:
 * its applier codes the distributions on the writer's thread before storing (log-applier.ts).
 */
export function transitDecision(record: DecisionRecord): EncodedDecision {
  return rowOf(record, encodeRecord(record, true));
}

function rowOf(record: DecisionRecord, bytes: Uint8Array): EncodedDecision {
  return {
    decisionId: record.decisionId,
    timestamp: record.timestamp,
    userId: record.userId,
    policyId: record.policy.id,
    activated: record.activated,
    activatedAt: record.activatedAt ?? null,
    bytes,
  };
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
    late: r.late === 1,
    ignored: r.ignored === 1,
  };
  if (r.item_id !== null) out.itemId = r.item_id;
  return out;
}

/** Opens the file for tools and workers that mostly read: writes run inline, no writer thread (pass options to change). */
export function openSqliteDecisionStore(
  path: string,
  options: OpenOptions = { writer: "inline" },
): { decisions: SqliteDecisionStore; store: SqliteStore } {
  const store = new SqliteStore(path, options);
  return { decisions: new SqliteDecisionStore(store), store };
}
