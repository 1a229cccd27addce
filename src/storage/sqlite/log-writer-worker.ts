import { readlinkSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { fromWireOp, type WireOp } from "./event-columns.js";
import { LogApplier } from "./log-applier.js";
import type { LogOp, WireResult } from "./log-ops.js";
import { boundWal } from "./wal-bounds.js";

/**
 * The log writer's thread: its own connection to the log database, group commit of every op queued
 * while the previous commit ran (they arrive as messages during it), results posted back once their
 * transaction committed. The main thread migrated the schema before starting this thread.
 */
export interface WriterData {
  path: string;
  durability: "process" | "fsync";
  factsBlockSize?: number;
}

/** The writer thread's own heap (its isolate), reported with results at most once a second (metrics). */
export interface ThreadMemory {
  heapUsed: number;
  external: number;
}

/** Ops travel as `WireOp`s (event-columns.ts: events as columns, not objects). */
export type ToWriter = { type: "ops"; ops: { id: number; op: WireOp }[] } | { type: "close" };
export type FromWriter =
  /** `tid`: the thread's OS id (Linux), so the main thread can read its CPU time (log-writer.ts `stats`). */
  | { type: "ready"; tid?: number }
  | { type: "results"; results: { id: number; result: WireResult }[]; memory?: ThreadMemory }
  | { type: "closed" };

const port = parentPort;
if (!port) throw new Error("log-writer-worker.ts runs as a worker thread");
const data = workerData as WriterData;
const db = new Database(data.path);
db.pragma("journal_mode = WAL");
// WAL + NORMAL: a committed transaction is in the WAL file when commit returns, so it survives a crash
// of the process; FULL also fsyncs it (power loss).
db.pragma(`synchronous = ${data.durability === "fsync" ? "FULL" : "NORMAL"}`);
db.pragma("busy_timeout = 5000");
db.pragma("foreign_keys = ON");
boundWal(db);
const applier = new LogApplier(db, data.factsBlockSize);

let queue: { id: number; op: LogOp }[] = [];
let scheduled = false;
let memoryReportedAt = 0;

function flush(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  if (batch.length === 0) return;
  const results = applier.commit(batch.map((b) => b.op));
  const msg: FromWriter = {
    type: "results",
    results: batch.map((b, i) => ({ id: b.id, result: results[i] as WireResult })),
  };
  const now = Date.now();
  if (now - memoryReportedAt >= 1000) {
    memoryReportedAt = now;
    const heap = getHeapStatistics();
    msg.memory = { heapUsed: heap.used_heap_size, external: heap.external_memory };
  }
  port?.postMessage(msg);
  applier.maintain();
}

port.on("message", (msg: ToWriter) => {
  if (msg.type === "ops") {
    for (const o of msg.ops) queue.push({ id: o.id, op: fromWireOp(o.op) });
    // Let every message that arrived during the last commit in before committing the next batch.
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return;
  }
  flush();
  db.close();
  port.postMessage({ type: "closed" } satisfies FromWriter);
  port.close();
});

port.postMessage({ type: "ready", ...osThreadId() } satisfies FromWriter);

/** This thread's OS id from /proc/thread-self (Linux); nothing elsewhere. Node 20 has no thread CPU clock. */
function osThreadId(): { tid?: number } {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isSafeInteger(tid) ? { tid } : {};
  } catch {
    return {};
  }
}
