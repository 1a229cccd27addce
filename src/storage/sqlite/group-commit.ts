import type Database from "better-sqlite3";

interface PendingWrite<T> {
  run: () => T;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: writes queued during one turn of the event loop run together in one transaction, and
 * each caller's promise resolves only after that transaction committed. Requests are acknowledged
 * once durable, but pay for one commit per batch instead of one per write.
 *
 * Each write runs in its own savepoint (better-sqlite3 nests transactions as savepoints), so one
 * failing write rejects only its caller and never half-writes the others.
 */
export class GroupCommitter {
  private queue: PendingWrite<unknown>[] = [];
  private scheduled = false;
  batches = 0;
  writes = 0;

  constructor(private readonly db: Database.Database) {}

  /** Queues `run` (synchronous SQL) for the next group commit; resolves with its result once committed. */
  write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject } as PendingWrite<unknown>);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued so far. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          try {
            results.push({ ok: true, value: this.db.transaction(write.run)() });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
      })();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    this.batches++;
    this.writes += batch.length;
    batch.forEach((write, i) => {
      const r = results[i];
      if (r?.ok) write.resolve(r.value);
      else write.reject(r?.error);
    });
  }

  /** Commits what is queued now (used at shutdown); flushes are synchronous, so nothing is left after. */
  async drain(): Promise<void> {
    this.flush();
  }
}
