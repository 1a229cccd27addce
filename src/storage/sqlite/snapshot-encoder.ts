import type { Worker } from "node:worker_threads";
import { startWorker } from "../../core/worker-url.js";

/**
 * A policy snapshot's JSON, built on a thread of its own and handed back as UTF-8 bytes (transferred, not copied).
 *
 * Why: the log writer's thread used to build it inside the transaction that stores it (log-applier.ts), and every
 * request waits for that thread's next commit: in `bench rank` a 4 MB snapshot held every ack for 176 ms, and the
 * default hybrid policy's snapshot at its 2,000 arms is tens of MB (each arm's matrices in base64), written every
 * `policies.snapshotEvery`. Here the JSON is built beside the commits; the writer only stores the bytes.
 * The thread starts at the first snapshot and does not keep the process alive while idle.
 */
export class SnapshotEncoder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

  /** `snapshot`'s JSON as `snapshotJson` writes it; the `transfer` buffers (the snapshot's arrays) move to the thread. */
  encode(snapshot: unknown, transfer: ArrayBuffer[]): Promise<Uint8Array> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, snapshot }, transfer);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(import.meta.url, "./snapshot-encoder-worker");
    worker.on("message", (msg: { id: number; bytes?: Uint8Array; error?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (msg.bytes) p.resolve(msg.bytes);
      else p.reject(new Error(`policy snapshot encoding failed: ${msg.error}`));
    });
    const failAll = (reason: string) => {
      if (this.worker === worker) this.worker = undefined; // the next snapshot starts a new thread
      for (const p of this.pending.values()) p.reject(new Error(reason));
      this.pending.clear();
    };
    worker.on("error", (e) => failAll(`policy snapshot encoder failed: ${e.message}`));
    worker.on("exit", () => failAll("policy snapshot encoder exited"));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
