import type { Statement } from "better-sqlite3";
import type { UserEvent } from "../../core/types.js";
import { DEFAULT_DEDUP_WINDOW, DedupWindow } from "../../events/dedup-window.js";
import type { SqliteDb } from "./database.js";

/** Rows per INSERT statement: a batch of 100 events (the common HTTP batch) is one statement. */
export const ROWS_PER_STATEMENT = 100;

/** Rows read at once while the window is rebuilt from the log, each range with one arrival-time note (`stamp`). */
const REBUILD_ROWS = 10_000;

/**
 * Inserts events into the log's `events` table, deduplicated by event id over the last `dedupWindow` ids
 * written (events/dedup-window.ts), not by a unique index: with random ids (what clients send: `ev_<uuid>`)
 * such an index dirtied a different leaf page per event, ~100 pages per commit of 100 events written to the WAL
 * and copied again by the checkpoint, ~4.5x slower than ordered ids (issue 12; migration 6 dropped it). An id
 * retried after more than `dedupWindow` newer ids is logged again, a second row with the same `event_id`.
 *
 * The window answers which events are fresh before anything is written, and only those are inserted; within a
 * batch the first copy of an id wins. It must never claim an id the log does not hold: the log applier takes a
 * `mark` before each transaction and savepoint and rolls the window back to it when that rolls back.
 *
 * After a restart it is rebuilt from the log before the first insert (or at `load`, which the server's writer
 * thread calls before it says it is ready): the ids of the last `dedupWindow` rows by `seq`, one range scan of
 * the rowid, so an acknowledged event retried after a crash is still a duplicate.
 *
 * Up to `ROWS_PER_STATEMENT` rows per statement: one statement per event cost a bind, a step and a reset each,
 * crossing from JS into SQLite every time; a multi-row VALUES list does that once per chunk
 * (https://www.sqlite.org/lang_insert.html). The statements are prepared once per chunk size and kept.
 */
export class EventInserter {
  private readonly bySize = new Map<number, Statement<unknown[]>>();
  /** Bind parameters, reused: four per row. */
  private readonly params: (string | number)[] = [];
  private readonly fresh: number[] = [];
  private window: DedupWindow | undefined;

  constructor(
    private readonly db: SqliteDb,
    private readonly dedupWindow = DEFAULT_DEDUP_WINDOW,
  ) {}

  /** Rebuilds the window from the log unless it was; returns how many ids it holds. */
  load(now = Date.now()): number {
    if (this.window) return this.window.size;
    const last = (this.db.prepare("SELECT max(seq) FROM events").pluck().get() as number | null) ?? 0;
    const from = Math.max(0, last - this.dedupWindow);
    // Sized for what it reads at once: no doubling and rehashing on the way.
    const window = new DedupWindow(this.dedupWindow, Math.max(1, last - from));
    // Ranges of the rowid read with `all`: ~5x faster than one `iterate` over them (a step from JS per row).
    const ids = this.db
      .prepare<[number, number], string>("SELECT event_id FROM events WHERE seq > ? AND seq <= ? ORDER BY seq")
      .pluck();
    const firstTs = this.db
      .prepare<[number, number], number>("SELECT ts FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1")
      .pluck();
    for (let lo = from; lo < last; lo += REBUILD_ROWS) {
      const hi = Math.min(last, lo + REBUILD_ROWS);
      // Arrival times are not stored: an event's own time stands for it (clients send it within minutes).
      const ts = firstTs.get(lo, hi);
      if (ts !== undefined) window.stamp(Math.min(ts, now), 0);
      for (const id of ids.all(lo, hi)) window.addId(id);
    }
    this.window = window;
    return window.size;
  }

  /** The window's size and its oldest id's arrival (ms), for metrics; none before it was loaded. */
  windowStats(): { ids: number; oldestAt?: number } | undefined {
    const w = this.window;
    if (!w) return undefined;
    const oldestAt = w.oldestAt();
    return oldestAt === undefined ? { ids: w.size } : { ids: w.size, oldestAt };
  }

  /** Work after a batch was acknowledged: the window's growth (`DedupWindow.growIfNear`). */
  maintain(): void {
    this.window?.growIfNear();
  }

  /** A point to roll the window back to (`rollbackTo`), taken before a transaction or savepoint. */
  mark(): number {
    return this.window?.mark() ?? -1;
  }

  /** Takes the ids added since `mark` out of the window: their transaction or savepoint rolled back. */
  rollbackTo(mark: number): void {
    // -1: the window was loaded after the mark, inside the rolled-back work; what it read is committed, but
    // loading again is simpler than telling the loaded ids from the added ones.
    if (mark < 0) this.window = undefined;
    else this.window?.rollbackTo(mark);
  }

  /** Inserts the events new to the window; returns the indices (into `events`) of those inserted, ascending. */
  insert(events: readonly UserEvent[], now = Date.now()): number[] {
    this.load(now);
    const window = this.window as DedupWindow;
    window.stamp(now);
    const fresh = this.fresh;
    fresh.length = 0;
    for (let i = 0; i < events.length; i++) if (window.addId((events[i] as UserEvent).eventId)) fresh.push(i);
    for (let start = 0; start < fresh.length; start += ROWS_PER_STATEMENT) {
      this.insertChunk(events, fresh, start, Math.min(fresh.length, start + ROWS_PER_STATEMENT));
    }
    return fresh.slice();
  }

  /** Inserts `events[fresh[k]]` for k in [start, end) with one statement. */
  private insertChunk(events: readonly UserEvent[], fresh: number[], start: number, end: number): void {
    const n = end - start;
    const params = this.params;
    params.length = n * 4;
    for (let k = 0; k < n; k++) {
      const e = events[fresh[start + k] as number] as UserEvent;
      params[4 * k] = e.eventId;
      params[4 * k + 1] = e.userId;
      params[4 * k + 2] = e.timestamp;
      params[4 * k + 3] = JSON.stringify(e);
    }
    this.statement(n).run(params);
  }

  private statement(rows: number): Statement<unknown[]> {
    let stmt = this.bySize.get(rows);
    if (!stmt) {
      const values = new Array<string>(rows).fill("(?, ?, ?, ?)").join(", ");
      stmt = this.db.prepare<unknown[]>(`INSERT INTO events (event_id, user_id, ts, body) VALUES ${values}`);
      this.bySize.set(rows, stmt);
    }
    return stmt;
  }
}
