import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { UserEvent } from "../../core/types.js";
import { SqliteStore } from "./database.js";
import { EventInserter, ROWS_PER_STATEMENT } from "./event-inserts.js";
import { SqliteEventLog } from "./event-log-sqlite.js";
import { migrate, SCHEMA_VERSION } from "./migrations.js";

const ev = (i: number, userId = `u${i % 3}`, ts = 1_000 + i): UserEvent => ({
  eventId: `e${i}`,
  type: "view",
  userId,
  timestamp: ts,
  itemId: `item-${i}`,
});

async function collect(log: SqliteEventLog, options: Parameters<SqliteEventLog["scan"]>[0]): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of log.scan(options)) ids.push(...batch.map((e) => e.eventId));
  return ids;
}

describe("EventInserter (multi-row inserts of events)", () => {
  it("inserts batches longer than one statement and answers the indices of the new events", () => {
    const db = new Database(":memory:");
    migrate(db);
    const inserter = new EventInserter(db);
    const first = Array.from({ length: ROWS_PER_STATEMENT + 7 }, (_, i) => ev(i));
    expect(inserter.insert(first)).toEqual(first.map((_, i) => i));
    // Old ids, a new one, a copy of it later in the same batch, across a statement boundary.
    const second = [ev(3), ev(500), ...Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => ev(i + 1000)), ev(500)];
    const inserted = inserter.insert(second);
    expect(inserted).toEqual([1, ...Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => i + 2)]);
    const rows = db.prepare("SELECT body FROM events WHERE event_id = ?").pluck();
    expect(JSON.parse(rows.get("e500") as string)).toEqual(ev(500));
    expect(db.prepare("SELECT count(*) FROM events").pluck().get()).toBe(first.length + ROWS_PER_STATEMENT + 1);
  });

  it("inserts the first copy of an id repeated within one statement, once", () => {
    const db = new Database(":memory:");
    migrate(db);
    const copy = { ...ev(1), itemId: "other" };
    expect(new EventInserter(db).insert([ev(1), ev(2), copy, ev(2)])).toEqual([0, 1]);
    const body = db.prepare("SELECT body FROM events WHERE event_id = 'e1'").pluck().get() as string;
    expect(JSON.parse(body).itemId).toBe("item-1");
  });
});

describe("migration 5: events without the (user, time) index", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("migrates a version 4 data dir: the index is gone, its events scan by time and user, ids still dedupe", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-events-mig-"));
    dirs.push(dir);
    const path = join(dir, "loopwise.db");
    // A data dir as the previous release left it: schema version 4, events written row by row.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    migrate(old, 4);
    const indexNames = (db: Database.Database) =>
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck().all();
    expect(indexNames(old)).toContain("events_user_ts");
    const insert = old.prepare("INSERT OR IGNORE INTO events (event_id, user_id, ts, body) VALUES (?, ?, ?, ?)");
    const oldEvents = [ev(1, "u1", 30), ev(2, "u2", 10), ev(3, "u1", 20), ev(4, "u1", 50)];
    for (const e of oldEvents) insert.run(e.eventId, e.userId, e.timestamp, JSON.stringify(e));
    old.close();

    const store = new SqliteStore(path);
    try {
      await store.ready();
      expect(store.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      expect(indexNames(store.db)).not.toContain("events_user_ts");
      expect(indexNames(store.db)).toContain("events_ts");
      const log = new SqliteEventLog(store);
      // A retried old event is a duplicate; new ones go in beside the old.
      const appended = await log.append([ev(3, "u1", 20), ev(5, "u1", 40), ev(6, "u2", 60)]);
      expect(appended.inserted.map((e) => e.eventId)).toEqual(["e5", "e6"]);
      expect(appended.duplicates).toEqual(["e3"]);
      expect(await collect(log, {})).toEqual(["e2", "e3", "e1", "e5", "e4", "e6"]);
      expect(await collect(log, { userId: "u1", from: 25, to: 60, batchSize: 1 })).toEqual(["e1", "e5", "e4"]);
      const plan = store.db
        .prepare("EXPLAIN QUERY PLAN SELECT seq FROM events WHERE ts > 0 AND user_id = 'u1' ORDER BY ts, seq")
        .all() as { detail: string }[];
      // The by-user scan reads the time index (no temporary sort, no full-table scan).
      expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING INDEX events_ts/);
    } finally {
      await store.close();
    }
  });
});
