import { readFileSync } from "node:fs";
import type { Worker } from "node:worker_threads";
import { ErrorCodes, LoopwiseError } from "../../core/errors.js";
import { startWorker } from "../../core/worker-url.js";
import type { SqliteDb } from "./database.js";
import type { DecisionJournal, JournalStats } from "./decision-journal.js";
import { toWireOp, type WireOp } from "./event-columns.js";
import { type ApplierOptions, LogApplier } from "./log-applier.js";
import {
  type DurableLogOp,
  type DurableOpOf,
  type DurableOpResult,
  type EncodedDecision,
  fromWireError,
  type LogOp,
  type OpOf,
  type OpResult,
  opBytes,
  opTransfer,
  type WireResult,
} from "./log-ops.js";
import { ALL_INSERTED, ChannelMainEnd, createChannelBuffers } from "./log-writer-channel.js";
import type { FromWriter, ThreadMemory, ToWriter, WriterData } from "./log-writer-worker.js";

/**
 * The log writer: takes typed write ops (log-ops.ts) and resolves each once the transaction holding it
 * committed (durable: it survives kill -9 of the process). Ops queued while a commit runs go into the
 * next one (group commit).
 */
export interface LogWriter {
  write<K extends DurableLogOp["kind"]>(op: DurableOpOf<K>): Promise<DurableOpResult[K]>;
  /** Resolves once the writer can commit (its thread started and opened the database). */
  ready(): Promise<void>;
  /** False once the writer cannot write any more (its thread died); `reason` says why. */
  health(): { ok: boolean; reason?: string };
  stats(): WriterStats;
  /**
   * Lets a group commit delay (config storage.groupCommitMs) wait for more writes only while `moreMayCome()`
   * says more can be posted before the ones posted are acknowledged (the HTTP server: not every connection
   * waits on a request). Until this is called, a write ends the delay at once, so a caller that awaits each
   * write never waits it out. Writers without a delay ignore it.
   */
  waitForMoreWrites?(moreMayCome: () => boolean): void;
  /** Commits everything queued, then stops. */
  close(): Promise<void>;
}

export interface WriterStats {
  /** Ops accepted and not yet committed, and the bytes they hold. */
  queued: number;
  queuedBytes: number;
  batches: number;
  writes: number;
  rejected: number;
  /** The writer thread's heap bytes (its own V8 isolate), as last reported; 0 when inline. */
  threadHeapBytes: number;
  /** CPU seconds the writer's own thread used so far (Linux); absent when the writer has no thread. */
  threadCpuSeconds?: number;
  /**
   * The SQLite events' dedup window (event-inserts.ts): ids it holds and when the oldest arrived (epoch ms, to
   * about a second), as last reported; absent before it was loaded and on stores that dedup otherwise.
   */
  dedupWindow?: { ids: number; oldestAt?: number };
  /** The decision journal's counts (decision-journal.ts), when the writer has one (absent: every rank awaits its commit). */
  journal?: JournalStats;
}

export interface QueueLimits {
  /** Ops waiting or being committed, at most (default 20,000). */
  maxWrites?: number;
  /** Bytes held by those ops, at most (default 128 MiB). */
  maxBytes?: number;
}

/**
 * Writes waiting for their commit past which a fresh decision waits for its commit too instead of being answered at
 * its journal write (`journalKeepsUp`). At a steady 1,000 ranks/s a commit holds 1-3; at saturation over 16
 * connections, about as many as connections.
 */
const JOURNAL_LEAD = 8;

/** Seconds a client told to back off (503) should wait: one commit takes milliseconds. */
const RETRY_AFTER_SECONDS = ErrorCodes.WRITE_QUEUE_FULL.retryAfter;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  bytes: number;
  /** An events op's size (the ring's `ALL_INSERTED` stands for all its indices); 0 for other ops. */
  events: number;
}

/** The SQLite writers also take the SQLite-only ops (policy snapshots: log-ops.ts). */
export interface SqliteLogWriter extends LogWriter {
  write<K extends LogOp["kind"]>(op: OpOf<K>): Promise<OpResult[K]>;
  /** Whether the next fresh decision should take the journal now (`WorkerLogWriter.journalKeepsUp`). */
  journalKeepsUp?(): boolean;
  writeJournaled?(decision: EncodedDecision): JournaledWrite;
}

/** A decision durable in the journal (`WorkerLogWriter.writeJournaled`). */
export interface JournaledWrite {
  /** The commit's outcome; the journal keeps the record for the next start's replay when it fails. */
  committed: Promise<boolean>;
  /** The record's bytes as journaled, the caller's to keep (the decision's own bytes go to the writer's thread). */
  bytes: Uint8Array;
}

/** Writes on the caller's connection, one transaction per event-loop turn: in-memory databases (tests). */
export class InlineLogWriter implements SqliteLogWriter {
  private readonly applier: LogApplier;
  private queue: { op: LogOp; pending: Pending }[] = [];
  private scheduled = false;
  private readonly counts = { batches: 0, writes: 0, rejected: 0 };

  constructor(db: SqliteDb, options: ApplierOptions = {}) {
    this.applier = new LogApplier(db, options);
  }

  write<K extends LogOp["kind"]>(op: OpOf<K>): Promise<OpResult[K]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, pending: { resolve: resolve as (v: unknown) => void, reject, bytes: 0, events: 0 } });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Rebuilds the events' dedup window from the log now (log-applier.ts). */
  loadDedupWindow(): void {
    this.applier.loadDedupWindow();
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results = this.applier.commit(batch.map((b) => b.op));
    this.counts.batches++;
    this.counts.writes += batch.length;
    batch.forEach((b, i) => {
      settle(b.pending, results[i] as WireResult);
    });
    this.applier.maintain();
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  health() {
    return { ok: true };
  }

  stats(): WriterStats {
    const out: WriterStats = { queued: this.queue.length, queuedBytes: 0, threadHeapBytes: 0, ...this.counts };
    const dedup = this.applier.dedupStats();
    if (dedup) out.dedupWindow = dedup;
    return out;
  }

  async close(): Promise<void> {
    this.flush();
  }
}

/**
 * A thread's CPU time from Linux's per-task schedstat (ns on a CPU first): read from here, so the writer's
 * thread spends nothing on being measured. Undefined when unreadable (schedstats off, thread gone).
 */
function threadCpuSeconds(path: string): number | undefined {
  try {
    const ns = Number(readFileSync(path, "utf8").split(" ")[0]);
    return Number.isFinite(ns) ? ns / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

const allIndices = (n: number) => Array.from({ length: n }, (_, i) => i);

function settle(pending: Pending, result: WireResult): void {
  if (result.ok) pending.resolve(result.value);
  else pending.reject(fromWireError(result.error));
}

/**
 * The log writer in a worker thread with its own connection (log-writer-worker.ts): the event loop
 * only encodes records and posts them. The queue is bounded by ops and bytes; past either bound a write
 * is refused at once with WRITE_QUEUE_FULL (HTTP 503 + Retry-After), so memory never grows unbounded
 * when the disk falls behind. If the thread dies, every pending write is rejected (none is lost
 * silently) and the writer reports itself unhealthy.
 */
export class WorkerLogWriter implements SqliteLogWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private outbox: { id: number; op: WireOp }[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private nextId = 1;
  private queuedBytes = 0;
  private failure: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly counts = { writes: 0, rejected: 0 };
  private threadMemory: ThreadMemory = { heapUsed: 0, external: 0 };
  private dedupWindow: WriterStats["dedupWindow"];
  /** The thread's schedstat file (Linux), once it said its OS thread id. */
  private threadStatPath: string | undefined;
  private readonly maxWrites: number;
  private readonly maxBytes: number;
  private readonly started: Promise<void>;
  private onStarted: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** The doorbell and the results ring shared with the thread (log-writer-channel.ts). */
  private readonly channel: ChannelMainEnd;
  private readonly settleFromRing = (id: number, result: WireResult) => this.settleOne(id, result);
  private moreMayCome: () => boolean = () => false;
  private journal: DecisionJournal | undefined;

  constructor(data: WriterData, limits: QueueLimits = {}) {
    this.maxWrites = limits.maxWrites ?? 20_000;
    this.maxBytes = limits.maxBytes ?? 128 * 1024 * 1024;
    this.started = new Promise((resolve, reject) => {
      this.onStarted = { resolve, reject };
    });
    this.started.catch(() => {}); // observed through ready() and writes
    // The ring holds every unread result: at most the writes the queue bound lets be pending.
    const channel = createChannelBuffers(this.maxWrites);
    this.channel = new ChannelMainEnd(channel);
    this.worker = startWorker(import.meta.url, "./log-writer-worker", { workerData: { ...data, channel } });
    this.worker.on("message", (msg: FromWriter) => this.onMessage(msg));
    this.worker.on("error", (error) => this.fail(`log writer failed: ${error.message}`));
    this.worker.on("exit", (code) => this.fail(`log writer thread exited (code ${code})`));
    // Referenced while starting and while writes are pending: an idle writer keeps no process alive.
  }

  write<K extends LogOp["kind"]>(op: OpOf<K>): Promise<OpResult[K]> {
    const bytes = opBytes(op);
    const refusal = this.refusal(bytes);
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      this.enqueue(op, { resolve: resolve as (v: unknown) => void, reject, bytes, events: 0 });
    });
  }

  /** Acknowledges fresh decisions at their journal write from now on (`writeJournaled`); the store replayed it first. */
  useJournal(journal: DecisionJournal): void {
    this.journal = journal;
  }

  /**
   * Whether the writer keeps up: fewer than `JOURNAL_LEAD` writes wait for their commit. A rank is answered at its
   * journal write only then. Past it the rank waits for its commit as without a journal, which is the back pressure
   * that throttles the event loop to what the writer commits: measured at saturation (16 connections, 2 cores),
   * answering every rank at its journal write let the event loop take the cores the writer and the client needed
   * (1,032-1,468 ranks/s against 1,606-1,971 awaiting each commit), and the writer's backlog grew.
   */
  journalKeepsUp(): boolean {
    return this.journal !== undefined && this.pending.size < JOURNAL_LEAD;
  }

  /**
   * Journals a decision whose id is new (decision-journal.ts), then queues its commit. Durable when this returns;
   * throws with nothing written when the writer refuses writes (failed, closing, queue full: the same bounds as
   * `write`) or the journal cannot be written.
   */
  writeJournaled(decision: EncodedDecision): JournaledWrite {
    const journal = this.journal;
    if (!journal) throw new Error("writeJournaled without a journal (useJournal)");
    const op: OpOf<"decision"> = { kind: "decision", decision };
    const bytes = opBytes(op);
    const refusal = this.refusal(bytes);
    if (refusal) throw refusal;
    const ticket = journal.append(decision);
    const committed = new Promise<boolean>((resolve, reject) => {
      this.enqueue(op, {
        resolve: (value) => {
          journal.settled(ticket, true);
          resolve(value as boolean);
        },
        reject: (error) => {
          journal.settled(ticket, false);
          reject(error);
        },
        bytes,
        events: 0,
      });
    });
    return { committed, bytes: ticket.record };
  }

  /** Why a write of `bytes` cannot be queued now (the writer failed, is closing, or its queue is full), if it cannot. */
  private refusal(bytes: number): LoopwiseError | undefined {
    if (this.failure) return new LoopwiseError("UNAVAILABLE", this.failure);
    if (this.closing) return new LoopwiseError("UNAVAILABLE", "the log writer is closing");
    if (this.pending.size < this.maxWrites && this.queuedBytes + bytes <= this.maxBytes) return undefined;
    this.counts.rejected++;
    return new LoopwiseError(
      "WRITE_QUEUE_FULL",
      `the log writer is behind (${this.pending.size} writes, ${this.queuedBytes} bytes queued); retry in ${RETRY_AFTER_SECONDS} s`,
    );
  }

  private enqueue(op: LogOp, pending: Pending): void {
    const id = this.nextId++;
    this.worker.ref();
    if (op.kind === "events") pending.events = op.events.length;
    this.pending.set(id, pending);
    this.queuedBytes += pending.bytes;
    this.outbox.push({ id, op: toWireOp(op) });
    for (const b of opTransfer(op)) this.transfer.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.post());
    }
  }

  /** Posts what this turn queued as one message; record bytes are transferred, not copied. */
  private post(): void {
    this.scheduled = false;
    if (this.outbox.length === 0 || this.failure) return;
    const msg: ToWriter = { type: "ops", ops: this.outbox };
    const transfer = this.transfer;
    this.outbox = [];
    this.transfer = [];
    this.worker.postMessage(msg, transfer);
    this.channel.ring(!this.moreMayCome());
  }

  waitForMoreWrites(moreMayCome: () => boolean): void {
    this.moreMayCome = moreMayCome;
  }

  ready(): Promise<void> {
    return this.started;
  }

  private onMessage(msg: FromWriter): void {
    if (msg.type === "ready") {
      if (msg.tid !== undefined) this.threadStatPath = `/proc/${process.pid}/task/${msg.tid}/schedstat`;
      this.onStarted?.resolve();
      this.unrefWhenIdle();
      void this.watchResults();
    }
    if (msg.type !== "results") return;
    if (msg.memory) this.threadMemory = msg.memory;
    if (msg.dedupWindow) this.dedupWindow = msg.dedupWindow;
    for (const { id, result } of msg.results) this.settleOne(id, result);
    this.unrefWhenIdle();
  }

  /** Settles the results the thread put in the shared ring, each time it publishes some, until the thread is gone. */
  private async watchResults(): Promise<void> {
    while (!this.failure) {
      await this.channel.whenWritten();
      this.takeRingResults();
    }
  }

  private takeRingResults(): void {
    this.channel.drain(this.settleFromRing);
    this.unrefWhenIdle();
  }

  private settleOne(id: number, result: WireResult): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.queuedBytes -= p.bytes;
    this.counts.writes++;
    if (result.ok && result.value === ALL_INSERTED) settle(p, { ok: true, value: allIndices(p.events) });
    else settle(p, result);
  }

  /** An idle writer keeps no process alive; a closing one does until its thread exited. */
  private unrefWhenIdle(): void {
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
  }

  private fail(reason: string): void {
    if (this.failure) return;
    // A clean close exits the thread after every result was published: nothing is pending then. Results in
    // the ring are settled first, so a write that committed is never reported lost.
    this.takeRingResults();
    this.failure = reason;
    this.channel.wake();
    this.onStarted?.reject(new LoopwiseError("UNAVAILABLE", reason));
    const error = new LoopwiseError("UNAVAILABLE", `${reason}; the write was not committed`);
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.queuedBytes = 0;
    this.outbox = [];
    this.transfer = [];
  }

  health() {
    if (this.failure && !this.closing) return { ok: false, reason: this.failure };
    return { ok: true };
  }

  stats(): WriterStats {
    const threadHeapBytes = this.threadMemory.heapUsed + this.threadMemory.external;
    const out: WriterStats = {
      queued: this.pending.size,
      queuedBytes: this.queuedBytes,
      threadHeapBytes,
      batches: this.channel.commits(),
      ...this.counts,
    };
    const cpu = this.threadStatPath === undefined || this.failure ? undefined : threadCpuSeconds(this.threadStatPath);
    if (cpu !== undefined) out.threadCpuSeconds = cpu;
    if (this.dedupWindow) out.dedupWindow = this.dedupWindow;
    if (this.journal) out.journal = this.journal.stats();
    return out;
  }

  /** Test and emergency use: stops the thread now, as a crash would (pending writes are rejected). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failure) return resolve();
      this.worker.ref();
      this.worker.once("exit", () => resolve());
      this.post();
      this.worker.postMessage({ type: "close" } satisfies ToWriter);
      this.channel.ring();
    });
    return this.closing;
  }
}
