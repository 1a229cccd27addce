import type { UserEvent } from "../../core/types.js";
import type { EventLog } from "../../events/event-log.js";
import { type OpenOptions, SqliteStore } from "./database.js";

/**
 * The event log in SQLite: append-only, deduplicated by event id over the last `dedupWindow` ids written (the log
 * writer's window, event-inserts.ts): an id retried later than that is appended again.
 */
export class SqliteEventLog implements EventLog {
  private readonly countAll;

  constructor(private readonly store: SqliteStore) {
    this.countAll = store.db.prepare("SELECT count(*) AS n FROM events").pluck();
  }

  /** Written by the log writer (log-applier.ts); resolves once durable. */
  async append(events: readonly UserEvent[]): Promise<{ inserted: UserEvent[]; duplicates: string[] }> {
    const indices = await this.store.writer.write({ kind: "events", events: [...events] });
    // Every event new (the common batch): no per-event sorting.
    if (indices.length === events.length) return { inserted: [...events], duplicates: [] };
    const inserted: UserEvent[] = [];
    const duplicates: string[] = [];
    let next = 0;
    events.forEach((e, i) => {
      if (indices[next] === i) {
        inserted.push(e);
        next++;
      } else duplicates.push(e.eventId);
    });
    return { inserted, duplicates };
  }

  async *scan(
    options: { from?: number; to?: number; userId?: string; batchSize?: number } = {},
  ): AsyncIterable<UserEvent[]> {
    const where = ["(ts > @ts OR (ts = @ts AND seq > @seq))"];
    const params: Record<string, number | string> = { limit: options.batchSize ?? 5000 };
    if (options.to !== undefined) {
      where.push("ts < @to");
      params.to = options.to;
    }
    if (options.userId !== undefined) {
      where.push("user_id = @userId");
      params.userId = options.userId;
    }
    const stmt = this.store.db.prepare(
      `SELECT seq, ts, body FROM events WHERE ${where.join(" AND ")} ORDER BY ts, seq LIMIT @limit`,
    );
    // Keyset pagination on (ts, seq): stable under concurrent appends, no OFFSET rescans.
    params.ts = options.from ?? Number.MIN_SAFE_INTEGER;
    params.seq = -1;
    for (;;) {
      const rows = stmt.all(params) as { seq: number; ts: number; body: string }[];
      if (rows.length === 0) return;
      const last = rows[rows.length - 1] as { seq: number; ts: number };
      params.ts = last.ts;
      params.seq = last.seq;
      yield rows.map((r) => JSON.parse(r.body) as UserEvent);
      if (rows.length < (params.limit as number)) return;
    }
  }

  async count(): Promise<number> {
    return this.countAll.get() as number;
  }

  async close(): Promise<void> {}
}

/** Opens the file for tools and workers that mostly read: writes run inline, no writer thread (pass options to change). */
export function openSqliteEventLog(
  path: string,
  options: OpenOptions = { writer: "inline" },
): { log: SqliteEventLog; store: SqliteStore } {
  const store = new SqliteStore(path, options);
  return { log: new SqliteEventLog(store), store };
}
