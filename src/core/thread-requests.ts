import type { Worker } from "node:worker_threads";
import { startWorker } from "./worker-url.js";

/** What a thread run behind `ThreadRequests` posts back for request `id`: its `value`, or the `error` it caught. */
export interface ThreadAnswer {
  id: number;
  value?: unknown;
  error?: string;
}

/** Names for the errors: `${work} failed: …` when the thread answers an error, `${thread} failed/exited` else. */
export interface ThreadNames {
  work: string;
  thread: string;
}

/**
 * Requests to a worker thread of one's own (`startWorker(callerUrl, entry)`), each answered by id with a
 * `ThreadAnswer`. The thread starts at the first request; it is referenced while a request waits and unreferenced
 * otherwise, so an idle one never keeps the process alive; when it fails or exits, every waiting request is
 * rejected and the next request starts a new thread. The policy version decoder, the snapshot encoder and the
 * learner's full encoder each hold one (they had the same lines three times).
 */
export class ThreadRequests {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly callerUrl: string,
    private readonly entry: string,
    private readonly names: ThreadNames,
  ) {}

  /** A new request: its id, the thread to post it to (referenced until answered), and the answer's value. */
  open<T>(): { id: number; worker: Worker; answer: Promise<T> } {
    const worker = this.start();
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    worker.ref();
    return { id, worker, answer };
  }

  /** Whether request `id` still waits for its answer (false once answered, or failed with its thread). */
  waiting(id: number): boolean {
    return this.pending.has(id);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(this.callerUrl, this.entry);
    worker.on("message", (msg: ThreadAnswer) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (msg.error === undefined) p.resolve(msg.value);
      else p.reject(new Error(`${this.names.work} failed: ${msg.error}`));
    });
    const failAll = (reason: string) => {
      if (this.worker === worker) this.worker = undefined; // the next request starts a new thread
      for (const p of this.pending.values()) p.reject(new Error(reason));
      this.pending.clear();
    };
    worker.on("error", (e) => failAll(`${this.names.thread} failed: ${e.message}`));
    worker.on("exit", () => failAll(`${this.names.thread} exited`));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
