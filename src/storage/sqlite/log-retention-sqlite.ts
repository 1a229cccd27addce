import type { LogRetention, LogTable, RetentionStep } from "../../decisions/log-retention.js";
import type { SqliteDb } from "./database.js";
import type { SqliteLogWriter } from "./log-writer.js";

/** Expired events deleted per step: about a millisecond of the writer's time. */
const EVENTS_PER_STEP = 1000;
/** Free pages released per step (8 MB of 4 KB pages: tens of ms of the writer's time). */
const PAGES_PER_STEP = 2000;
/** The share of the file's pages kept free for new rows (never released). */
const KEEP_FREE_SHARE = 0.1;

/**
 * Retention of the SQLite log (config `log.retention`). Each step is one op of the log writer's thread
 * (log-ops.ts `retention`), so it runs between the group commits of requests, never beside them, and holds the
 * write lock for one small delete:
 *
 * - decisions go one sealed facts block at a time (consecutive decisions, 512 by default), and only a block
 *   whose newest decision is older than the cutoff: with the block go its decisions' rewards, the facts' reward
 *   rows and activation overlay, so what the facts of the kept blocks say (offline evaluation, export) is
 *   unchanged. The unsealed tail (the newest < 512 decisions) is never deleted.
 * - events go by time (`events_ts` index), `EVENTS_PER_STEP` per step.
 * - then free pages go back to the file system, `PAGES_PER_STEP` per step, but only what exceeds
 *   KEEP_FREE_SHARE of the file (`PRAGMA incremental_vacuum`, files created with `auto_vacuum = INCREMENTAL`:
 *   database.ts; an older file keeps its pages until an offline `VACUUM`).
 * SQLite puts the freed pages on its freelist and new rows reuse them, so under a steady retention the file stops
 * growing on its own. Releasing every free page would make each pass shrink the file only for the next day's rows
 * to grow it again, and incremental vacuum moves pages from the end into the holes (writes as big as what is
 * released). So a pass keeps a tenth of the file free: a retention of 10 days or more frees less than that a day
 * and releases nothing in steady state; a shortened retention or a traffic drop gives back the excess.
 */
export class RetentionStatements {
  private readonly stmts;

  constructor(private readonly db: SqliteDb) {
    this.stmts = {
      expiredBlock: db.prepare(
        "SELECT first_seq, last_seq FROM decision_facts_blocks WHERE max_ts < ? ORDER BY first_seq LIMIT 1",
      ),
      rewards: db.prepare(
        "DELETE FROM rewards WHERE decision_id IN (SELECT decision_id FROM decisions WHERE rowid BETWEEN ? AND ?)",
      ),
      slotRewards: db.prepare("DELETE FROM slot_rewards WHERE seq BETWEEN ? AND ?"),
      activations: db.prepare("DELETE FROM decision_activations WHERE seq BETWEEN ? AND ?"),
      decisions: db.prepare("DELETE FROM decisions WHERE rowid BETWEEN ? AND ?"),
      block: db.prepare("DELETE FROM decision_facts_blocks WHERE first_seq = ?"),
      events: db.prepare("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts < ? LIMIT ?)"),
    };
    this.incremental = db.pragma("auto_vacuum", { simple: true }) === 2;
  }

  /** Whether the file gives back free pages (auto_vacuum = INCREMENTAL). */
  private readonly incremental: boolean;

  /** Runs inside the writer's transaction (a savepoint of its own: a failure undoes the whole step). */
  step(cutoff: number, maxEvents = EVENTS_PER_STEP): RetentionStep {
    const block = this.stmts.expiredBlock.get(cutoff) as { first_seq: number; last_seq: number } | undefined;
    if (block) {
      const range = [block.first_seq, block.last_seq];
      // Rewards first: they reference their decisions (foreign key).
      const rewards = this.stmts.rewards.run(...range).changes;
      this.stmts.slotRewards.run(...range);
      this.stmts.activations.run(...range);
      const decisions = this.stmts.decisions.run(...range).changes;
      this.stmts.block.run(block.first_seq);
      return { deleted: { decisions, rewards }, partitionsDropped: {}, done: false };
    }
    const events = this.stmts.events.run(cutoff, maxEvents).changes;
    if (events > 0)
      return { deleted: { events }, partitionsDropped: {}, done: events < maxEvents && !this.excessFree() };
    return { deleted: {}, partitionsDropped: {}, done: this.releaseFreePages() === 0 };
  }

  /** Free pages beyond KEEP_FREE_SHARE of the file (0 when the file cannot release pages). */
  private excessFree(): number {
    if (!this.incremental) return 0;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    return Math.max(0, free - Math.floor(pages * KEEP_FREE_SHARE));
  }

  /** Releases up to PAGES_PER_STEP of the excess free pages; returns how many. */
  private releaseFreePages(): number {
    const n = Math.min(this.excessFree(), PAGES_PER_STEP);
    if (n > 0) this.db.pragma(`incremental_vacuum(${n})`);
    return n;
  }
}

/** The LogRetention port on a SQLite store: steps through its log writer, reads on the main connection. */
export class SqliteLogRetention implements LogRetention {
  private readonly oldest;

  constructor(
    private readonly writer: SqliteLogWriter,
    db: SqliteDb,
  ) {
    // Both on their time index: one probe each.
    this.oldest = {
      decisions: db.prepare("SELECT min(ts) FROM decisions").pluck(),
      events: db.prepare("SELECT min(ts) FROM events").pluck(),
    };
  }

  /** Nothing to prepare: SQLite tables take any time. */
  async prepare(): Promise<number> {
    return 0;
  }

  step(cutoff: number): Promise<RetentionStep> {
    return this.writer.write({ kind: "retention", cutoff, maxEvents: EVENTS_PER_STEP });
  }

  /** Decisions and events (rewards have no time index here; they go with their decisions). */
  async oldestRetained(): Promise<Partial<Record<LogTable, number | undefined>>> {
    return {
      decisions: (this.oldest.decisions.get() as number | null) ?? undefined,
      events: (this.oldest.events.get() as number | null) ?? undefined,
    };
  }
}
