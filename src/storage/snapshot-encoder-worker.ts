import { parentPort } from "node:worker_threads";
import { decodeSnapshotBinary, encodeSnapshotBinary, joinParts } from "../bandit/snapshot-binary.js";
import { transferablesOf } from "../core/transferables.js";

/**
 * The snapshot encoder's thread (snapshot-encoder.ts): the binary snapshot in parts, each transferred back; and
 * the other way, base64 parts (posted one a message) decoded into a snapshot whose arrays are transferred back.
 */
const port = parentPort;
if (!port) throw new Error("snapshot-encoder-worker.ts runs as a worker thread");

type Job =
  | { id: number; snapshot: unknown; partBytes: number }
  | { id: number; part: string }
  | { id: number; decode: true };

/** The base64 parts of each decode under way, by job id, until its `decode` message. */
const arriving = new Map<number, string[]>();

port.on("message", (job: Job) => {
  try {
    if ("part" in job) {
      const arrived = arriving.get(job.id);
      if (arrived) arrived.push(job.part);
      else arriving.set(job.id, [job.part]);
      return;
    }
    if ("decode" in job) {
      const parts = (arriving.get(job.id) ?? []).map((text) => Buffer.from(text, "base64"));
      arriving.delete(job.id);
      // decodeSnapshotBinary copies the arrays region into one fresh buffer: every array is a view of it.
      const snapshot = decodeSnapshotBinary(joinParts(parts));
      port.postMessage({ id: job.id, value: snapshot }, transferablesOf(snapshot));
      return;
    }
    // Each part owns its buffer (snapshot-binary.ts `encodeSnapshotBinary`), so all can be transferred.
    const parts = encodeSnapshotBinary(job.snapshot, job.partBytes);
    port.postMessage(
      { id: job.id, value: parts },
      parts.map((p) => p.buffer as ArrayBuffer),
    );
  } catch (error) {
    arriving.delete(job.id);
    port.postMessage({ id: job.id, error: (error as Error).message });
  }
});
