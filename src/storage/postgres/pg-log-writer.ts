import { ErrorCodes, LoopwiseError } from "../../core/errors.js";
import { type LogOp, type OpOf, type OpResult, opBytes } from "../../decisions/log-ops.js";
import type { LogWriter, QueueLimits, WriterStats } from "../sqlite/log-writer.js";
import { applyOps } from "./log-statements.js";
import { asStorageError, isPartitionRoutingRace, isUnavailable, type PgClient, type PgPool } from "./pool.js";

interface Queued {
  op: LogOp;
  bytes: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Ops per transaction at most: bounds one commit's size and the time a batch holds its row locks. */
const MAX_BATCH = 2000;
/** Times a batch is run again after a partition's ATTACH raced its routing (pool.ts `isPartitionRoutingRace`). */
const ROUTING_RETRIES = 3;
/** Rows that fit one INSERT statement (log-statements.ts): below it a batch needs no BEGIN/COMMIT. */
const SINGLE_STATEMENT_ROWS = 1000;

/**
 * Group commit on PostgreSQL. One transaction is in flight at a time; ops arriving while it commits
 * queue up and all go into the next one, so under load a commit carries many appends (one multi-row
 * INSERT) and throughput does not need many connections. Each op resolves only after its COMMIT returned
 * (with the default synchronous_commit=on, after the WAL was flushed on the server).
 *
 * Failures: a connection failure rejects every op of the batch with STORAGE_UNAVAILABLE (HTTP 503 +
 * Retry-After; nothing is acknowledged that was not committed), and the next batch takes a fresh
 * connection from the pool (reconnecting). Any other error (a bad value, a duplicate in an all-or-none
 * import) rolls the batch back and replays its ops one transaction each, so only the faulty op rejects. A batch
 * refused because a day's partition was attached while it ran (`isPartitionRoutingRace`) is run again whole: it
 * was rolled back, and the retry routes its rows to the new partition.
 * The queue is bounded like the SQLite writer's: past it, WRITE_QUEUE_FULL at once.
 */
export class PgLogWriter implements LogWriter {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | undefined;
  private closed = false;
  private lastFailure: string | undefined;
  private readonly counts = { batches: 0, writes: 0, rejected: 0 };
  private readonly maxWrites: number;
  private readonly maxBytes: number;
  private inFlight = 0;

  constructor(
    private readonly pool: PgPool,
    limits: QueueLimits = {},
  ) {
    this.maxWrites = limits.maxWrites ?? 20_000;
    this.maxBytes = limits.maxBytes ?? 128 * 1024 * 1024;
  }

  write<K extends LogOp["kind"]>(op: OpOf<K>): Promise<OpResult[K]> {
    if (this.closed) return Promise.reject(new LoopwiseError("UNAVAILABLE", "the log writer is closed"));
    const bytes = opBytes(op);
    if (this.queue.length + this.inFlight >= this.maxWrites || this.queuedBytes + bytes > this.maxBytes) {
      this.counts.rejected++;
      return Promise.reject(
        new LoopwiseError(
          "WRITE_QUEUE_FULL",
          `the log writer is behind (${this.queue.length + this.inFlight} writes queued); retry in ${ErrorCodes.WRITE_QUEUE_FULL.retryAfter} s`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ op, bytes, resolve: resolve as (v: unknown) => void, reject });
      this.queuedBytes += bytes;
      this.draining ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the current turn's writes join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight = batch.length;
      for (const q of batch) this.queuedBytes -= q.bytes;
      await this.commit(batch).catch(() => {}); // commit settles every op itself
      this.inFlight = 0;
    }
    // Cleared in the same turn as the empty check: a write arriving after it starts the next drain.
    this.draining = undefined;
  }

  private async commit(batch: Queued[]): Promise<void> {
    let client: PgClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return this.failAll(batch, error);
    }
    try {
      const results = await this.transactionRetryingRoutingRaces(client, batch);
      client.release();
      this.lastFailure = undefined;
      this.counts.batches++;
      this.counts.writes += batch.length;
      batch.forEach((q, i) => {
        q.resolve(results[i]);
      });
    } catch (error) {
      client.release(isUnavailable(error) ? (error as Error) : undefined);
      if (isUnavailable(error) || batch.length === 1) return this.failAll(batch, error);
      for (const q of batch) await this.commit([q]); // isolate the faulty op
    }
  }

  private async transactionRetryingRoutingRaces(client: PgClient, batch: readonly Queued[]): Promise<unknown[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(client, batch);
      } catch (error) {
        if (attempt > ROUTING_RETRIES || !isPartitionRoutingRace(error)) throw error;
      }
    }
  }

  private async transaction(client: PgClient, batch: readonly Queued[]): Promise<unknown[]> {
    const ops = batch.map((q) => q.op);
    // One statement commits on its own (autocommit): a batch of appends is one round trip.
    const oneStatement =
      (ops.length <= SINGLE_STATEMENT_ROWS && ops.every((op) => op.kind === "decision")) ||
      (ops.length === 1 && ops[0]?.kind === "events" && ops[0].events.length <= SINGLE_STATEMENT_ROWS);
    if (oneStatement) return applyOps(client, ops);
    await client.query("BEGIN");
    try {
      const results = await applyOps(client, ops);
      await client.query("COMMIT");
      return results;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  }

  private failAll(batch: readonly Queued[], error: unknown): void {
    const mapped = asStorageError(error);
    if (isUnavailable(error)) this.lastFailure = (error as Error).message;
    for (const q of batch) q.reject(mapped);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Unhealthy after a batch failed to reach PostgreSQL, until the next commit succeeds. */
  health(): { ok: boolean; reason?: string } {
    return this.lastFailure ? { ok: false, reason: `PostgreSQL unreachable: ${this.lastFailure}` } : { ok: true };
  }

  stats(): WriterStats {
    // No writer thread: the writes are encoded on the main thread, whose heap the process metrics show.
    return {
      queued: this.queue.length + this.inFlight,
      queuedBytes: this.queuedBytes,
      threadHeapBytes: 0,
      ...this.counts,
    };
  }

  /** Commits everything queued, then refuses new writes. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
  }
}
