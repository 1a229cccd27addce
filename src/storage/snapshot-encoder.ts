import { setImmediate as nextTurn } from "node:timers/promises";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import { encodeSnapshotBinary } from "../bandit/snapshot-binary.js";
import { snapshotTransfer } from "../bandit/snapshot-codec.js";
import { ThreadRequests } from "../core/thread-requests.js";

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
  private readonly thread = new ThreadRequests(import.meta.url, "./snapshot-encoder-worker", {
    work: "policy snapshot coding",
    thread: "policy snapshot encoder",
  });

  /**
   * `snapshot`'s binary form in parts of at most `partBytes` (snapshot-binary.ts `encodeSnapshotBinary`); the
   * `transfer` buffers (the snapshot's arrays) move to the thread.
   */
  encode(snapshot: unknown, transfer: ArrayBuffer[], partBytes: number): Promise<Uint8Array[]> {
    const { id, worker, answer } = this.thread.open<Uint8Array[]>();
    worker.postMessage({ id, snapshot, partBytes }, transfer);
    return answer;
  }

  /**
   * The binary snapshot (snapshot-binary.ts `decodeSnapshotBinary`) whose bytes are `parts` (base64, in order)
   * joined, decoded on the thread; its arrays come back transferred (one buffer), the header's objects cloned
   * (~10 ms at 2,000 arms). A part is posted per event-loop turn (each a copy of ~1.4 MB of text), so no turn
   * holds the loop for more than one part. Rejects when the bytes are not a readable snapshot.
   */
  async decodeBase64Parts(parts: readonly string[]): Promise<PolicySnapshot> {
    const { id, worker, answer } = this.thread.open<PolicySnapshot>();
    for (const [i, text] of parts.entries()) {
      if (!this.thread.waiting(id)) break; // the thread failed meanwhile: `answer` is rejected already
      if (i > 0) await nextTurn();
      worker.postMessage({ id, part: text });
    }
    if (this.thread.waiting(id)) worker.postMessage({ id, decode: true });
    return answer;
  }

  close(): Promise<void> {
    return this.thread.close();
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
