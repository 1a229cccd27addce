import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { UserEvent } from "../../core/types.js";
import { SqliteStore } from "./database.js";
import { EventInserter } from "./event-inserts.js";
import { SqliteEventLog } from "./event-log-sqlite.js";
import { LogApplier } from "./log-applier.js";
import type { LogOp } from "./log-ops.js";
import type { WorkerLogWriter } from "./log-writer.js";
import { migrate, SCHEMA_VERSION } from "./migrations.js";

const ev = (id: string, userId = "u1", ts = 1_000): UserEvent => ({ eventId: id, type: "view", userId, timestamp: ts });
const eventsOp = (...ids: string[]): LogOp => ({ kind: "events", events: ids.map((id) => ev(id)) });
/** An event the database refuses (NOT NULL user_id): its op fails inside the transaction. */
const badEvent = (id: string) => ({ ...ev(id), userId: null }) as unknown as UserEvent;

function memoryDb(): Database.Database {
  const db = new Database(":memory:");
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}
const rowsOf = (db: Database.Database, id: string) =>
  db.prepare("SELECT count(*) FROM events WHERE event_id = ?").pluck().get(id) as number;

describe("event ids deduplicated over a window (the log applier)", () => {
  it("an op failing inside a group commit takes its ids out of the window; the others' stay", () => {
    const db = memoryDb();
    const applier = new LogApplier(db);
    const results = applier.commit([
      eventsOp("a1", "a2"),
      { kind: "events", events: [ev("b1"), badEvent("b2")] },
      eventsOp("c1", "b1"),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    // b1 went into the window with the failing op, and left it with its savepoint: c1's op inserted it.
    expect(results[2]).toEqual({ ok: true, value: [0, 1] });
    expect(["a1", "a2", "b1", "b2", "c1"].map((id) => rowsOf(db, id))).toEqual([1, 1, 1, 0, 1]);
    // The committed ids are duplicates; b2 never went in, so it is fresh.
    expect(applier.commit([eventsOp("a1", "b1", "c1", "b2")])).toEqual([{ ok: true, value: [3] }]);
  });

  it("a transaction failing as a whole takes every id it added out of the window", () => {
    const db = memoryDb();
    // A deferred foreign key fails at COMMIT: every op's savepoint was released, then the transaction rolls back.
    db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
      CREATE TABLE child (parent_id TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER poison AFTER INSERT ON events WHEN NEW.user_id = 'poison'
        BEGIN INSERT INTO child VALUES ('missing'); END;`);
    const applier = new LogApplier(db);
    expect(applier.commit([eventsOp("kept")])).toEqual([{ ok: true, value: [0] }]);
    const poisoned: LogOp = { kind: "events", events: [ev("p1", "poison"), ev("p2")] };
    for (const batch of [[eventsOp("x1", "x2"), poisoned], [poisoned]]) {
      const results = applier.commit(batch);
      expect(results.every((r) => !r.ok)).toBe(true);
      expect(["x1", "x2", "p1", "p2"].map((id) => rowsOf(db, id))).toEqual([0, 0, 0, 0]);
    }
    db.exec("DROP TRIGGER poison");
    expect(applier.commit([eventsOp("kept", "x1", "x2", "p1", "p2")])).toEqual([{ ok: true, value: [1, 2, 3, 4] }]);
  });

  it("a window loaded inside a transaction that failed is loaded again from what committed", () => {
    const db = memoryDb();
    new EventInserter(db).insert([ev("old")]);
    const applier = new LogApplier(db);
    // The first events op loads the window, then fails: the next one sees the log as committed.
    expect(applier.commit([{ kind: "events", events: [ev("n1"), badEvent("n2")] }])[0]?.ok).toBe(false);
    expect(applier.commit([eventsOp("old", "n1", "n2")])).toEqual([{ ok: true, value: [1, 2] }]);
  });

  it("logs an id again once more than `dedupWindow` newer ids were written", () => {
    const db = memoryDb();
    const inserter = new EventInserter(db, 3);
    expect(inserter.insert(["e1", "e2", "e3"].map((id) => ev(id)))).toEqual([0, 1, 2]);
    expect(inserter.insert([ev("e1"), ev("e4")])).toEqual([1]); // e1 still in the window; e4 pushes it out
    expect(inserter.insert([ev("e1"), ev("e3")])).toEqual([0]);
    expect(rowsOf(db, "e1")).toBe(2);
    expect(inserter.windowStats()?.ids).toBe(3);
  });
});

describe("event dedup across restarts (a file, the writer's thread)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempPath = () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-dedup-"));
    dirs.push(dir);
    return join(dir, "loopwise.db");
  };

  it("rebuilds the window from the log's last rows after the writer died, so acknowledged ids stay duplicates", async () => {
    const path = tempPath();
    const first = new SqliteStore(path, { dedupWindow: 50, loadDedupAtStart: true });
    await first.ready();
    const ids = Array.from({ length: 80 }, (_, i) => `evt_${i}`);
    await new SqliteEventLog(first).append(ids.map((id) => ev(id)));
    // As a crash would: the thread stops with nothing more committed or closed.
    await (first.writer as WorkerLogWriter).terminate();
    first.db.close();

    const second = new SqliteStore(path, { dedupWindow: 50, loadDedupAtStart: true });
    try {
      await second.ready();
      // Loaded before ready: the last 50 ids (by seq) are in it; the stats come with the first results.
      const log = new SqliteEventLog(second);
      const retried = await log.append([ev("evt_79"), ev("evt_30"), ev("evt_29"), ev("fresh")]);
      expect(retried.duplicates).toEqual(["evt_79", "evt_30"]);
      expect(retried.inserted.map((e) => e.eventId)).toEqual(["evt_29", "fresh"]); // evt_29: beyond the window
      expect(await log.count()).toBe(82);
      // The thread reports the window with its first results (and at most once a second after).
      await vi.waitFor(() => expect(second.writer.stats().dedupWindow?.ids).toBe(50));
    } finally {
      await second.close();
    }
  });

  it("migrates a version 5 data dir: no unique index on event_id, rows and seq kept, a retried id still a duplicate", async () => {
    const path = tempPath();
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    migrate(old, 5);
    const insert = old.prepare("INSERT INTO events (seq, event_id, user_id, ts, body) VALUES (?, ?, ?, ?, ?)");
    // Out of time order and with gaps in seq (retention deletes the oldest): both must survive as they are.
    const oldRows = [
      [3, ev("m1", "u1", 50)],
      [7, ev("m2", "u2", 10)],
      [8, ev("m3", "u1", 30)],
    ] as const;
    for (const [seq, e] of oldRows) insert.run(seq, e.eventId, e.userId, e.timestamp, JSON.stringify(e));
    expect(() => insert.run(9, "m1", "u1", 1, "{}")).toThrow(/UNIQUE/);
    old.close();

    const store = new SqliteStore(path);
    try {
      await store.ready();
      const db = store.db;
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck();
      expect(indexes.all()).toEqual(["events_ts"]);
      const rows = db.prepare("SELECT seq, event_id, user_id, ts, body FROM events ORDER BY seq").all();
      expect(rows).toEqual(
        oldRows.map(([seq, e]) => ({
          seq,
          event_id: e.eventId,
          user_id: e.userId,
          ts: e.timestamp,
          body: JSON.stringify(e),
        })),
      );
      const log = new SqliteEventLog(store);
      const appended = await log.append([ev("m2", "u2", 10), ev("m4", "u1", 20)]);
      expect(appended.duplicates).toEqual(["m2"]);
      expect(db.prepare("SELECT seq FROM events WHERE event_id = 'm4'").pluck().get()).toBe(9);
      const scanned: string[] = [];
      for await (const batch of log.scan({})) scanned.push(...batch.map((e) => e.eventId));
      expect(scanned).toEqual(["m2", "m4", "m3", "m1"]);
    } finally {
      await store.close();
    }
  });
});
