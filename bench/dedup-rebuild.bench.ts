import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { newEventId } from "../src/client/ids.js";
import { EventInserter } from "../src/storage/sqlite/event-inserts.js";
import { migrate } from "../src/storage/sqlite/migrations.js";

/**
 * `npm run bench -- dedup-rebuild [--events=2000000] [--windows=1000000,2000000]`: how long the SQLite log writer
 * takes to rebuild its event dedup window from the log at start (storage/sqlite/event-inserts.ts `load`), which
 * delays the server's start. A log of `events` rows as ingest writes them (`ev_<uuid>` ids, JSON bodies of a view
 * event), then, on a fresh connection per window size, one load: its wall time, the window's bytes, and the
 * thread's heap after it. The file was just written, so its pages are in the OS cache (a warm restart); a cold
 * disk adds the read of the rows' pages.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const events = Number(arg("events") ?? 2_000_000);
  const windows = (arg("windows") ?? "1000000,2000000").split(",").map(Number);
  const dir = mkdtempSync(join(tmpdir(), "loopwise-dedup-rebuild-"));
  const path = join(dir, "loopwise.db");
  try {
    fill(path, events);
    const results = [];
    for (const window of windows) {
      const db = new Database(path);
      db.pragma("journal_mode = WAL");
      const inserter = new EventInserter(db, window);
      const t0 = performance.now();
      const ids = inserter.load();
      const seconds = (performance.now() - t0) / 1000;
      db.close();
      const row = { window, ids, seconds: Number(seconds.toFixed(3)), idsPerSec: Math.round(ids / seconds) };
      console.log(`window ${window}: ${ids} ids loaded in ${seconds.toFixed(3)} s (${row.idsPerSec} ids/s)`);
      results.push(row);
    }
    return { options: { events, windows }, results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` events as ingest stores them, in transactions of 10,000 rows. */
function fill(path: string, n: number): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  migrate(db);
  const insert = db.prepare("INSERT INTO events (event_id, user_id, ts, body) VALUES (?, ?, ?, ?)");
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const event = {
        type: "view",
        userId: `ub${i % 50_000}`,
        itemId: `item-${i % 1000}`,
        eventId: newEventId(),
        timestamp: 1_780_000_000_000 + i,
      };
      insert.run(event.eventId, event.userId, event.timestamp, JSON.stringify(event));
    }
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i += 10_000) chunk(i, Math.min(n, i + 10_000));
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  console.log(`log of ${n} events written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
