import { workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { type CheckpointerData, CHECKPOINTER_SLOTS as SLOT } from "./wal-checkpointer.js";

/**
 * The WAL checkpointer's thread (wal-checkpointer.ts): its own connection, one PASSIVE checkpoint per wake-up.
 * PASSIVE copies what no reader still needs and never waits on a lock, so the log writer's commits go on meanwhile.
 */
const data = workerData as CheckpointerData;
const control = new Int32Array(data.control);

function serve(): void {
  const db = new Database(data.path);
  try {
    db.pragma("busy_timeout = 5000");
    // The same sync level as the writer: the checkpoint's fsyncs are what it costs either way.
    db.pragma(`synchronous = ${data.durability === "fsync" ? "FULL" : "NORMAL"}`);
    db.pragma("wal_autocheckpoint = 0");
    db.pragma("journal_size_limit = -1"); // it never commits; the writer's thread shrinks the WAL (wal-shrink.ts)
    let seen = 0;
    for (;;) {
      Atomics.wait(control, SLOT.requests, seen);
      if (Atomics.load(control, SLOT.closing) !== 0) break;
      seen = Atomics.load(control, SLOT.requests);
      db.pragma("wal_checkpoint(PASSIVE)");
      Atomics.add(control, SLOT.done, 1);
    }
  } finally {
    db.close();
  }
}

try {
  serve();
} catch (error) {
  // Not rethrown: the writer thread runs no event loop to take an error event; it sees `exited` and checkpoints
  // itself from then on.
  process.stderr.write(`loopwise: the WAL checkpointer stopped: ${(error as Error).message}\n`);
} finally {
  // Set on any exit, an error included: the writer then checkpoints itself again.
  Atomics.store(control, SLOT.exited, 1);
  Atomics.notify(control, SLOT.exited);
}
