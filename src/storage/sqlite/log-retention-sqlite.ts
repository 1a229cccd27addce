import type { LogRetention, LogTable, RetentionStep } from "../../decisions/log-retention.js";
import type { SqliteDb } from "./database.js";
import type { SqliteLogWriter } from "./log-writer.js";

/** Expired events deleted per step: about a millisecond of the writer's time. */
const EVENTS_PER_STEP = 1000;

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
 * SQLite puts the freed pages on its freelist and new rows reuse them: under a steady retention the file stops
 * growing (it does not shrink; `VACUUM` offline does that).
 */
export class RetentionStatements {
  private readonly stmts;

  constructor(db: SqliteDb) {
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
  }

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
    return { deleted: events > 0 ? { events } : {}, partitionsDropped: {}, done: events < maxEvents };
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
