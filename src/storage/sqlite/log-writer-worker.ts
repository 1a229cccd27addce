import { readlinkSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { fromWireOp, type WireOp } from "./event-columns.js";
import { LogApplier } from "./log-applier.js";
import { type LogOp, opBytes, type WireResult } from "./log-ops.js";
import { ChannelWriterEnd, resultCode, type WriterChannelBuffers } from "./log-writer-channel.js";
import { boundWal } from "./wal-bounds.js";
import { WalCheckpointer } from "./wal-checkpointer.js";
import { WalRestart } from "./wal-restart.js";
import { WalShrink } from "./wal-shrink.js";
import { type TraceKind, WriterTrace } from "./writer-trace.js";

/**
 * The log writer's thread: its own connection to the log database, group commit of every op queued
 * while the previous commit ran, results handed back once their transaction committed (log-writer-channel.ts:
 * ops arrive as messages taken synchronously after the doorbell; decision, activation and reward results go
 * back through a shared ring). The main thread migrated the schema before starting this thread.
 */
export interface WriterData {
  path: string;
  durability: "process" | "fsync";
  factsBlockSize?: number;
  /** Group commit delay in ms (`serve`); 0 or unset: commit as soon as the previous commit ended. */
  groupCommitMs?: number;
  /** Event ids remembered for deduplication (event-inserts.ts). */
  dedupWindow?: number;
  /**
   * Rebuild the dedup window from the log before saying ready (a server: the time goes to its start, not to the
   * first events request); otherwise at the first events op (tools and read-mostly stores, which may never write).
   */
  loadDedupAtStart?: boolean;
}

/** The writer thread's own heap (its isolate), reported with results at most once a second (metrics). */
export interface ThreadMemory {
  heapUsed: number;
  external: number;
}

/** Ops travel as `WireOp`s (event-columns.ts: events as columns, not objects). `results` holds those the shared ring does not. */
export type ToWriter = { type: "ops"; ops: { id: number; op: WireOp }[] } | { type: "close" };
export type FromWriter =
  /** `tid`: the thread's OS id (Linux), so the main thread can read its CPU time (log-writer.ts `stats`). */
  | { type: "ready"; tid?: number }
  | {
      type: "results";
      results: { id: number; result: WireResult }[];
      memory?: ThreadMemory;
      /** With `memory`: the events' dedup window (log-writer.ts `WriterStats`), once loaded. */
      dedupWindow?: { ids: number; oldestAt?: number };
    }
  | { type: "closed" };

const port = parentPort;
if (!port) throw new Error("log-writer-worker.ts runs as a worker thread");
const data = workerData as WriterData & { channel: WriterChannelBuffers };
const db = new Database(data.path);
db.pragma("journal_mode = WAL");
// WAL + NORMAL: a committed transaction is in the WAL file when commit returns, so it survives a crash
// of the process; FULL also fsyncs it (power loss).
db.pragma(`synchronous = ${data.durability === "fsync" ? "FULL" : "NORMAL"}`);
db.pragma("busy_timeout = 5000");
db.pragma("foreign_keys = ON");
// Checkpoints are asked for after a batch was acknowledged (`checkpointWhenDue`) and run on a thread of their own,
// not inside the commit that crosses the threshold: SQLite's automatic checkpoint copies ~1,000 pages and fsyncs
// twice while that batch's callers wait (and, on this thread, the next batch's).
boundWal(db, "elsewhere");
const walShrink = new WalShrink(db, `${data.path}-wal`);
const walRestart = new WalRestart(db);
const applier = new LogApplier(db, { factsBlockSize: data.factsBlockSize, dedupWindow: data.dedupWindow });
if (data.loadDedupAtStart) applier.loadDedupWindow();
const checkpointer = new WalCheckpointer(data.path, data.durability);
const channel = new ChannelWriterEnd(data.channel);
const trace = WriterTrace.fromEnv();

let memoryReportedAt = 0;
const PAGE_BYTES = db.pragma("page_size", { simple: true }) as number;

/** Commits one batch; coded results go to the shared ring, the rest (and the memory report) as one message. */
function commit(batch: { id: number; op: LogOp }[]): void {
  const results = applier.commit(batch.map((b) => b.op));
  const uncoded: { id: number; result: WireResult }[] = [];
  batch.forEach((b, i) => {
    const result = results[i] as WireResult;
    const code = resultCode(result, b.op.kind === "events" ? b.op.events.length : -1);
    if (code >= 0) channel.put(b.id, code);
    else uncoded.push({ id: b.id, result });
  });
  channel.publish();
  const now = Date.now();
  walShrink.afterCommit(now);
  const memoryDue = now - memoryReportedAt >= 1000;
  if (uncoded.length === 0 && !memoryDue) return;
  const msg: FromWriter = { type: "results", results: uncoded };
  if (memoryDue) {
    memoryReportedAt = now;
    const heap = getHeapStatistics();
    msg.memory = { heapUsed: heap.used_heap_size, external: heap.external_memory };
    const dedup = applier.dedupStats();
    if (dedup) msg.dedupWindow = dedup;
  }
  port?.postMessage(msg);
}

/**
 * The thread's loop, off the event loop: take every message posted so far (`receiveMessageOnPort`), commit them
 * as one batch (group commit: what arrived during a commit goes into the next), and sleep on the doorbell only
 * when nothing is waiting. The doorbell is read before taking messages, so a post after the last take wakes it.
 */
function serve(port: MessagePort): void {
  const delay = data.groupCommitMs ?? 0;
  /** Whether an empty take waits out the group commit delay, rather than sleeping until the doorbell. */
  let linger = false;
  for (;;) {
    const seen = channel.doorbell();
    const seenUrgent = channel.urgent();
    const batch: { id: number; op: LogOp }[] = [];
    let closing = false;
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      const msg = m.message as ToWriter;
      if (msg.type === "close") closing = true;
      else for (const o of msg.ops) batch.push({ id: o.id, op: fromWireOp(o.op) });
    }
    // A snapshot's parts and prune steps go after the batch's own commit, each in a commit of its own: the
    // requests acknowledged with this batch never wait for a part's write (policy-snapshot-rows.ts).
    const front = batch.filter((b) => !isBackground(b.op));
    if (front.length > 0) step(front);
    if (front.length < batch.length) for (const b of batch) if (isBackground(b.op)) step([b]);
    if (closing) break;
    // Group commit delay (config storage.groupCommitMs): after a commit, what the main thread posts within `delay`
    // ms is taken when the delay ends, in one commit, and its doorbell wakes nobody meanwhile (no futex wake on
    // its side). The main thread ends the delay early when no more writes can come before these are acknowledged
    // (log-writer.ts `waitForMoreWrites`: every client waits on one). A delay that brought nothing means traffic
    // paused: sleep until the doorbell, so a lone write after a pause is committed at once.
    if (batch.length > 0) linger = delay > 0;
    else if (!linger) channel.waitUnless(seen);
    else {
      channel.linger(seenUrgent, delay);
      linger = false;
    }
  }
  trace?.flush();
  checkpointer.close();
  db.close();
  port.postMessage({ type: "closed" } satisfies FromWriter);
  port.close();
}

function isBackground(op: LogOp): boolean {
  return op.kind === "policySnapshotPart" || op.kind === "policySnapshotPrune";
}

/** One commit and the work after it (a due facts block, a checkpoint request). */
function step(batch: { id: number; op: LogOp }[]): void {
  if (trace) tracedStep(batch);
  else {
    commit(batch);
    checkpointWhenDue(batch, applier.maintain());
  }
}

/** `serve`'s step with each part's hold of the thread recorded (writer-trace.ts). */
function tracedStep(batch: { id: number; op: LogOp }[]): void {
  const t = trace as WriterTrace;
  const s0 = t.threadTimes();
  const t0 = performance.now();
  commit(batch);
  const t1 = performance.now();
  const s1 = t.threadTimes();
  const sealed = applier.maintain();
  const t2 = performance.now();
  const s2 = t.threadTimes();
  const own = walRestart.finished;
  checkpointWhenDue(batch, sealed);
  const t3 = performance.now();
  t.add(traceKindOf(batch), t1 - t0, s0, s1);
  if (sealed) t.add("seal", t2 - t1, s1, s2);
  if (walRestart.finished !== own) t.add("ownCheckpoint", t3 - t2, s2, t.threadTimes());
  else if (pagesSinceCheckpoint === 0) t.add("checkpointRequest", t3 - t2);
}

/** A commit's kind in the trace: by the snapshot op it held, if any. */
function traceKindOf(batch: { op: LogOp }[]): TraceKind {
  for (const { op } of batch) {
    if (op.kind === "policySnapshot") return "commitWithSnapshot";
    if (op.kind === "policySnapshotPart") return "commitWithSnapshotPart";
    if (op.kind === "policySnapshotPrune") return "commitWithSnapshotPrune";
  }
  return "commit";
}

/** The WAL's automatic checkpoint threshold (pages, SQLite's default; wal-bounds.ts), counted by estimate. */
const CHECKPOINT_PAGES = 1000;
let pagesSinceCheckpoint = 0;

/**
 * A passive checkpoint (what SQLite's automatic one runs), asked of the checkpointer's thread (wal-checkpointer.ts)
 * once the batches since the last one wrote about `CHECKPOINT_PAGES` pages to the WAL. better-sqlite3 exposes no WAL hook with the exact frame count, so it is
 * estimated per batch (a commit writes each page it changed once): the batch's bytes in pages, plus three for the
 * table and index leaves its rows share; a policy snapshot, a retention step or a sealed facts block (megabytes, or
 * an unknown count) is taken to fill the threshold. Counting per op instead checkpointed a batch of 16 single
 * events 16 times too often (two fsyncs each), which capped `bench http` event1 at ~1,200 req/s.
 */
function checkpointWhenDue(batch: { op: LogOp }[], bigWrite: boolean): void {
  let big = bigWrite;
  let bytes = 0;
  for (const { op } of batch) {
    if (op.kind === "policySnapshot" || op.kind === "retention") big = true;
    else bytes += opBytes(op);
  }
  const pages = big ? CHECKPOINT_PAGES : Math.ceil(bytes / PAGE_BYTES) + 3;
  // Now and then the rest of a checkpoint on this thread, so the WAL restarts (wal-restart.ts).
  if (walRestart.afterCommit(pages, checkpointer.completed)) {
    pagesSinceCheckpoint = 0;
    return;
  }
  pagesSinceCheckpoint += pages;
  if (pagesSinceCheckpoint < CHECKPOINT_PAGES) return;
  pagesSinceCheckpoint = 0;
  if (!checkpointer.request()) db.pragma("wal_checkpoint(PASSIVE)");
}

port.postMessage({ type: "ready", ...osThreadId() } satisfies FromWriter);
// After this module's evaluation (its importer, the tsx bootstrap from source, finishes first).
setImmediate(() => serve(port));

/** This thread's OS id from /proc/thread-self (Linux); nothing elsewhere. Node 20 has no thread CPU clock. */
function osThreadId(): { tid?: number } {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isSafeInteger(tid) ? { tid } : {};
  } catch {
    return {};
  }
}
