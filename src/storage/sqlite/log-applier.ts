import type { Statement } from "better-sqlite3";
import type { Item } from "../../core/types.js";
import { slotsForReward } from "../../decisions/decision-facts.js";
import type { RewardOutcome, RewardRecord } from "../../decisions/decision-record.js";
import { storedReward } from "../../decisions/reward-reducer.js";
import { outcomeOf } from "../memory/decision-store-memory.js";
import type { SqliteDb } from "./database.js";
import { EventInserter } from "./event-inserts.js";
import { FactsWriter } from "./facts-writer.js";
import {
  type EncodedDecision,
  type LogOp,
  type PolicySnapshotPartOp,
  type PolicySnapshotRow,
  SAVE_POLICY_SQL,
  toWireError,
  type WireResult,
} from "./log-ops.js";
import { RetentionStatements } from "./log-retention-sqlite.js";
import { INSERT_PART_SQL, PRUNE_PARTS_PER_STEP, PRUNE_PARTS_SQL } from "./policy-snapshot-rows.js";
import { readShownSlots } from "./record-codec.js";
import { storedRecord } from "./record-transit.js";

/** How a log applier is set up: the facts' block size (small in tests) and the event dedup window. */
export interface ApplierOptions {
  factsBlockSize?: number | undefined;
  /** Event ids remembered for deduplication (event-inserts.ts; default `DEFAULT_DEDUP_WINDOW`). */
  dedupWindow?: number | undefined;
}

/**
 * Applies log ops to the writer's connection: the one place the log's write SQL lives. The worker
 * thread (log-writer-worker.ts) runs it on its own connection; in-memory databases run it on the
 * main connection (log-writer.ts).
 *
 * `commit(ops)` is group commit: the ops go in one transaction, each in a savepoint of its own, so a
 * failing op (a constraint, a bad record) rejects only its caller and the others commit. What the events'
 * dedup window learned inside a transaction or savepoint that rolled back is rolled back with it (a mark
 * taken before each), so it never claims an event id the log does not hold.
 */
export class LogApplier {
  private readonly stmts;
  private readonly facts: FactsWriter;
  private readonly eventInserter: EventInserter;
  /**
   * The batch's transaction and each op's savepoint (a transaction function called inside another runs as a
   * savepoint), made once: better-sqlite3 builds several wrapper closures per `transaction()` call, which
   * cost more than a small write when made per op (a sixth of the simulator's CPU in a profile).
   */
  private readonly inSavepoint: (op: LogOp) => unknown;
  private readonly inTransaction: (ops: readonly LogOp[], results: WireResult[]) => void;
  /** Prepared at the first retention step (most logs never run one). */
  private retention: RetentionStatements | undefined;
  /**
   * A batch of one op (every write of a request served alone) runs without a savepoint: its transaction is all
   * the isolation it needs (a failure rolls back only it), and a savepoint and its release cost ~5-10 µs each.
   */
  private readonly alone: (op: LogOp) => unknown;
  /** Prepared at the first snapshot: the policy store creates its tables after this writer started. */
  private savePolicy: Statement<unknown[]> | undefined;
  private insertPart: Statement<unknown[]> | undefined;
  private pruneParts: Statement<unknown[]> | undefined;

  constructor(
    private readonly db: SqliteDb,
    options: ApplierOptions = {},
  ) {
    this.facts = new FactsWriter(db, options.factsBlockSize);
    this.facts.load();
    this.eventInserter = new EventInserter(db, options.dedupWindow);
    this.stmts = {
      insertDecision: db.prepare(
        `INSERT INTO decisions (decision_id, ts, user_id, policy_id, activated, activated_at, record)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(decision_id) DO NOTHING`,
      ),
      decision: db.prepare(
        "SELECT rowid AS seq, ts, activated, activated_at, record FROM decisions WHERE decision_id = ?",
      ),
      activate: db.prepare(
        "UPDATE decisions SET activated = 1, activated_at = ? WHERE decision_id = ? AND activated = 0",
      ),
      exists: db.prepare("SELECT rowid FROM decisions WHERE decision_id = ?").pluck(),
      rewardExists: db.prepare("SELECT 1 FROM rewards WHERE reward_id = ?").pluck(),
      insertReward: db.prepare(
        "INSERT INTO rewards (reward_id, decision_id, ts, received_at, value, item_id, type, source, late, ignored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      upsertItem: db.prepare(
        "INSERT INTO items (id, updated_at, body) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
      ),
    };
    this.inSavepoint = db.transaction((op: LogOp) => this.apply(op));
    this.alone = db.transaction((op: LogOp) => this.apply(op));
    this.inTransaction = db.transaction((ops: readonly LogOp[], results: WireResult[]) => {
      for (const op of ops) {
        const mark = this.eventInserter.mark();
        try {
          results.push({ ok: true, value: this.inSavepoint(op) });
        } catch (error) {
          // Its savepoint rolled back what it wrote; what it accumulated in the facts goes too (reloaded), and
          // the event ids it added to the dedup window.
          this.eventInserter.rollbackTo(mark);
          this.facts.invalidate();
          results.push({ ok: false, error: toWireError(error) });
        }
      }
    });
  }

  commit(ops: readonly LogOp[]): WireResult[] {
    const results: WireResult[] = [];
    const mark = this.eventInserter.mark();
    try {
      if (ops.length === 1) results.push({ ok: true, value: this.alone(ops[0] as LogOp) });
      else this.inTransaction(ops, results);
    } catch (error) {
      this.eventInserter.rollbackTo(mark);
      this.facts.rolledBack();
      const wire = toWireError(error);
      return ops.map(() => ({ ok: false, error: wire }));
    }
    this.facts.committed();
    return results;
  }

  /** Rebuilds the events' dedup window from the log now, not at the first events op (a server, before serving). */
  loadDedupWindow(): number {
    return this.eventInserter.load();
  }

  /** The events' dedup window: ids held and the oldest one's arrival (ms); undefined until loaded. */
  dedupStats(): { ids: number; oldestAt?: number } | undefined {
    return this.eventInserter.windowStats();
  }

  /**
   * Work after a batch was acknowledged (sealing a facts block, growing the events' dedup window): never on an
   * append's path. True when it wrote a block (megabytes: the writer's thread checkpoints the WAL after it).
   */
  maintain(): boolean {
    this.eventInserter.maintain();
    return this.facts.sealDue();
  }

  private apply(op: LogOp): unknown {
    switch (op.kind) {
      case "decision":
        return this.insertDecision(op.decision, true);
      case "decisions":
        for (const d of op.decisions) this.insertDecision(d, false);
        return undefined;
      case "activate":
        return this.activate(op.decisionId, op.at);
      case "reward":
        return this.reward(op.reward, op.windowMs);
      case "events":
        return this.eventInserter.insert(op.events);
      case "items":
        return this.items(op.items);
      case "policySnapshot":
        return this.policySnapshot(op.row);
      case "policySnapshotPart":
        return this.policySnapshotPart(op);
      case "policySnapshotPrune":
        this.pruneParts ??= this.db.prepare(PRUNE_PARTS_SQL);
        return this.pruneParts.run(op.id, op.keep, PRUNE_PARTS_PER_STEP).changes > 0;
      case "retention":
        this.retention ??= new RetentionStatements(this.db);
        return this.retention.step(op.cutoff, op.maxEvents);
    }
  }

  /** The row's bytes were built off this thread (policy-store.ts): stored as they are, a BLOB. */
  private policySnapshot(row: PolicySnapshotRow): undefined {
    const { id, type, version, updates, savedAt, stored } = row;
    this.savePolicy ??= this.db.prepare(SAVE_POLICY_SQL);
    this.savePolicy.run(id, type, version, updates, savedAt, savedAt, asBuffer(stored));
    return undefined;
  }

  private policySnapshotPart(op: PolicySnapshotPartOp): undefined {
    this.insertPart ??= this.db.prepare(INSERT_PART_SQL);
    this.insertPart.run(op.id, op.save, op.part, asBuffer(op.bytes));
    return undefined;
  }

  private insertDecision(d: EncodedDecision, keepExisting: boolean): boolean {
    // A transit record (the SQLite store's appends) has its distributions coded here, off the event loop. The
    // op then holds what was stored: the writer's WAL estimate (log-writer-worker.ts) counts the stored bytes.
    const bytes = storedRecord(d.bytes);
    d.bytes = bytes;
    const info = this.stmts.insertDecision.run(
      d.decisionId,
      d.timestamp,
      d.userId,
      d.policyId,
      d.activated ? 1 : 0,
      d.activatedAt,
      bytes,
    );
    if (info.changes === 0) {
      if (keepExisting) return false;
      throw new Error(`UNIQUE constraint failed: decisions.decision_id (${d.decisionId})`);
    }
    // The facts read only what they need from the bytes (record-codec.ts `readFactsSource`), not the record.
    this.facts.append(bytes, d, Number(info.lastInsertRowid));
    return true;
  }

  private activate(decisionId: string, at: number): boolean {
    const seq = this.stmts.exists.get(decisionId) as number | undefined;
    if (seq === undefined) return false;
    if (this.stmts.activate.run(at, decisionId).changes === 1) this.facts.activated(seq, at);
    return true;
  }

  private reward(reward: RewardRecord, windowMs: number): RewardOutcome | undefined {
    const row = this.stmts.decision.get(reward.decisionId) as DecisionRow | undefined;
    if (!row) return undefined;
    if (this.stmts.rewardExists.get(reward.rewardId)) return "duplicate";
    const flags = storedReward(
      reward,
      {
        activated: row.activated === 1,
        timestamp: row.ts,
        ...(row.activated_at === null ? {} : { activatedAt: row.activated_at }),
      },
      windowMs,
    );
    const info = this.stmts.insertReward.run(
      reward.rewardId,
      reward.decisionId,
      reward.timestamp,
      flags.receivedAt,
      reward.value,
      reward.itemId ?? null,
      reward.type,
      reward.source,
      flags.late ? 1 : 0,
      flags.ignored ? 1 : 0,
    );
    if (!flags.late && !flags.ignored) {
      // Positions and item ids of the shown slots only: a reward decodes no distribution, JSON or features.
      const slots = slotsForReward({ slots: readShownSlots(row.record) }, reward.itemId);
      this.facts.rewarded(row.seq, slots, flags, Number(info.lastInsertRowid));
    }
    return outcomeOf(flags);
  }

  private items(items: readonly Item[]): undefined {
    for (const item of items) this.stmts.upsertItem.run(item.id, item.updatedAt, JSON.stringify(item));
    return undefined;
  }
}

/** better-sqlite3 binds a Buffer as a BLOB (a plain Uint8Array is refused); a view, not a copy. */
function asBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

interface DecisionRow {
  seq: number;
  ts: number;
  activated: number;
  activated_at: number | null;
  record: Uint8Array;
}
