import type { Statement } from "better-sqlite3";
import type { UserEvent } from "../../core/types.js";
import type { SqliteDb } from "./database.js";

/** Rows per INSERT statement: a batch of 100 events (the common HTTP batch) is one statement. */
export const ROWS_PER_STATEMENT = 100;

/**
 * Inserts events into the log's `events` table, deduplicated by event id (INSERT OR IGNORE on its unique
 * key), up to `ROWS_PER_STATEMENT` rows per statement. One statement per event cost a bind, a step and a
 * reset each, crossing from JS into SQLite every time; a multi-row VALUES list does that once per chunk
 * (https://www.sqlite.org/lang_insert.html). `RETURNING event_id` names the rows that went in: an ignored
 * row (its id already stored, or earlier in the same chunk) returns nothing
 * (https://www.sqlite.org/lang_returning.html), so the inserted ones are known without a statement per row.
 * The statements are prepared once per chunk size and kept.
 */
export class EventInserter {
  private readonly bySize = new Map<number, Statement<unknown[], string>>();
  /** Bind parameters, reused: four per row. */
  private params: (string | number)[] = [];

  constructor(private readonly db: SqliteDb) {}

  /** Inserts the events new to the log; returns the indices (into `events`) of those inserted, ascending. */
  insert(events: readonly UserEvent[]): number[] {
    const inserted: number[] = [];
    for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) {
      const end = Math.min(events.length, start + ROWS_PER_STATEMENT);
      this.insertChunk(events, start, end, inserted);
    }
    return inserted;
  }

  private insertChunk(events: readonly UserEvent[], start: number, end: number, inserted: number[]): void {
    const n = end - start;
    const params = this.params;
    params.length = n * 4;
    for (let i = 0; i < n; i++) {
      const e = events[start + i] as UserEvent;
      params[4 * i] = e.eventId;
      params[4 * i + 1] = e.userId;
      params[4 * i + 2] = e.timestamp;
      params[4 * i + 3] = JSON.stringify(e);
    }
    const stored = this.statement(n).all(params);
    if (stored.length === n) {
      // Every row went in (the common case): no id bookkeeping.
      for (let i = start; i < end; i++) inserted.push(i);
      return;
    }
    // Within a chunk the first copy of an id is the one inserted (rows are inserted in VALUES order).
    const fresh = new Set(stored);
    for (let i = start; i < end; i++) {
      const id = (events[i] as UserEvent).eventId;
      if (fresh.delete(id)) inserted.push(i);
    }
  }

  private statement(rows: number): Statement<unknown[], string> {
    let stmt = this.bySize.get(rows);
    if (!stmt) {
      const values = new Array<string>(rows).fill("(?, ?, ?, ?)").join(", ");
      stmt = this.db
        .prepare<unknown[], string>(
          `INSERT OR IGNORE INTO events (event_id, user_id, ts, body) VALUES ${values} RETURNING event_id`,
        )
        .pluck();
      this.bySize.set(rows, stmt);
    }
    return stmt;
  }
}
