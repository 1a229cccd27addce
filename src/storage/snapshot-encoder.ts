import { setImmediate as nextTurn } from "node:timers/promises";
import type { Worker } from "node:worker_threads";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import { encodeSnapshotBinary } from "../bandit/snapshot-binary.js";
import { snapshotTransfer } from "../bandit/snapshot-codec.js";
import { startWorker } from "../core/worker-url.js";

/**
 * A policy snapshot's bytes (bandit/snapshot-binary.ts), built on a thread of its own and handed back in parts
 * (transferred, not copied).
 *
 * Why: the log writer's thread used to build the snapshot's JSON inside the transaction that stores it
 * (sqlite/log-applier.ts), and every request waits for that thread's next commit: in `bench rank` a 4 MB snapshot held
 * every ack for 176 ms, and the default hybrid policy's snapshot is megabytes, written every
 * `policies.snapshotEvery`. Here it is built beside the commits; the writer only stores the parts.
 * The thread starts at the first snapshot and does not keep the process alive while idle.
 *
 * It also decodes (`decodeBase64Parts`): a PostgreSQL load of the default policy at 2,000 arms is ~34 parts whose
 * base64 decoding, joining and binary decoding held the loading process's event loop 235-307 ms in one turn (a
 * worker's learner taking over a lease, a re-registration picked up, `--role all` on PostgreSQL).
 */
export class SnapshotEncoder {
  private worker: Worker | undefined;
  private nextId = 1;
  // biome-ignore lint/suspicious/noExplicitAny: encode answers parts, decode a snapshot (each caller knows which)
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (e: Error) => void }>();

  /**
   * `snapshot`'s binary form in parts of at most `partBytes` (snapshot-binary.ts `encodeSnapshotBinary`); the
   * `transfer` buffers (the snapshot's arrays) move to the thread.
   */
  encode(snapshot: unknown, transfer: ArrayBuffer[], partBytes: number): Promise<Uint8Array[]> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, snapshot, partBytes }, transfer);
    });
  }

  /**
   * The binary snapshot (snapshot-binary.ts `decodeSnapshotBinary`) whose bytes are `parts` (base64, in order)
   * joined, decoded on the thread; its arrays come back transferred (one buffer), the header's objects cloned
   * (~10 ms at 2,000 arms). A part is posted per event-loop turn (each a copy of ~1.4 MB of text), so no turn
   * holds the loop for more than one part. Rejects when the bytes are not a readable snapshot.
   */
  async decodeBase64Parts(parts: readonly string[]): Promise<PolicySnapshot> {
    const worker = this.start();
    const id = this.nextId++;
    const decoded = new Promise<PolicySnapshot>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    worker.ref();
    for (const [i, text] of parts.entries()) {
      if (!this.pending.has(id)) break; // the thread failed meanwhile: `decoded` is rejected already
      if (i > 0) await nextTurn();
      worker.postMessage({ id, part: text });
    }
    if (this.pending.has(id)) worker.postMessage({ id, decode: true });
    return decoded;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(import.meta.url, "./snapshot-encoder-worker");
    worker.on("message", (msg: { id: number; parts?: Uint8Array[]; snapshot?: PolicySnapshot; error?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (msg.parts) p.resolve(msg.parts);
      else if (msg.snapshot) p.resolve(msg.snapshot);
      else p.reject(new Error(`policy snapshot coding failed: ${msg.error}`));
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

/**
 * `snapshot`'s binary parts (at most `partBytes` each): on the encoder's thread when the caller hands the snapshot
 * over (its arrays are transferred there, so the caller must not read them again), else here at once.
 */
export function encodeSnapshotParts(
  encoder: SnapshotEncoder | undefined,
  snapshot: PolicySnapshot,
  handOver: boolean | undefined,
  partBytes: number,
): Promise<Uint8Array[]> {
  return encoder && handOver
    ? encoder.encode(snapshot, snapshotTransfer(snapshot), partBytes)
    : Promise.resolve(encodeSnapshotBinary(snapshot, partBytes));
}

/** What a stored snapshot's row holds beside its bytes (the SQLite and PostgreSQL policy stores). */
export interface SnapshotHead {
  id: string;
  type: string;
  version: number;
  updates: number;
  savedAt: number;
}

export function snapshotHead(snapshot: PolicySnapshot, savedAt: number): SnapshotHead {
  return {
    id: snapshot.id,
    type: snapshot.type,
    version: snapshot.version,
    updates: snapshot.progress.updates,
    savedAt,
  };
}
