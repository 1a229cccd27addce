import type { Statement } from "better-sqlite3";
import type { UserEvent } from "../../core/types.js";
import type { SqliteDb } from "./database.js";

/** Rows per INSERT statement: a batch of 100 events (the common HTTP batch) is one statement. */
export const ROWS_PER_STATEMENT = 100;

/**
 * Inserts events into the log's `events` table, deduplicated by event id (INSERT OR IGNORE on its unique
 * key), up to `ROWS_PER_STATEMENT` rows per statement. One statement per event cost a bind, a step and a
 * reset each, crossing from JS into SQLite every time; a multi-row VALUES list does that once per chunk
 * (https://www.sqlite.org/lang_insert.html). The statements are prepared once per chunk size and kept.
 *
 * Which rows went in: the statement's change count says how many. All of them is the common case (fresh
 * events) and needs nothing more. Otherwise the new rows are the last `changes` rowids (the writer holds
 * the write lock for the whole transaction, and SQLite gives a new row the largest rowid plus one,
 * https://www.sqlite.org/autoinc.html), read back with their ids; within a chunk the first copy of an id is
 * the one inserted (rows go in in VALUES order). `RETURNING` would say it too, but builds its rows in a
 * temporary table and hands one string per row to JS on every batch, for an answer needed only on retries.
 */
export class EventInserter {
  private readonly bySize = new Map<number, Statement<unknown[]>>();
  private readonly idsOfRowRange: Statement<[number, number], string>;
  /** Bind parameters, reused: four per row. */
  private readonly params: (string | number)[] = [];

  constructor(private readonly db: SqliteDb) {
    this.idsOfRowRange = db
      .prepare<[number, number], string>("SELECT event_id FROM events WHERE seq > ? AND seq <= ? ORDER BY seq")
      .pluck();
  }

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
    const { changes, lastInsertRowid } = this.statement(n).run(params);
    if (changes === n) {
      for (let i = start; i < end; i++) inserted.push(i);
      return;
    }
    if (changes === 0) return;
    const last = Number(lastInsertRowid);
    const fresh = new Set(this.idsOfRowRange.all(last - changes, last));
    for (let i = start; i < end; i++) {
      if (fresh.delete((events[i] as UserEvent).eventId)) inserted.push(i);
    }
  }

  private statement(rows: number): Statement<unknown[]> {
    let stmt = this.bySize.get(rows);
    if (!stmt) {
      const values = new Array<string>(rows).fill("(?, ?, ?, ?)").join(", ");
      stmt = this.db.prepare<unknown[]>(`INSERT OR IGNORE INTO events (event_id, user_id, ts, body) VALUES ${values}`);
      this.bySize.set(rows, stmt);
    }
    return stmt;
  }
}
