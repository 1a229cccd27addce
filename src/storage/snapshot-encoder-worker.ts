import { parentPort } from "node:worker_threads";
import { encodeSnapshotBinary } from "../bandit/snapshot-binary.js";

/** The snapshot encoder's thread (snapshot-encoder.ts): the binary snapshot in parts, each transferred back. */
const port = parentPort;
if (!port) throw new Error("snapshot-encoder-worker.ts runs as a worker thread");
port.on("message", ({ id, snapshot, partBytes }: { id: number; snapshot: unknown; partBytes: number }) => {
  try {
    // Each part owns its buffer (snapshot-binary.ts `encodeSnapshotBinary`), so all can be transferred.
    const parts = encodeSnapshotBinary(snapshot, partBytes);
    port.postMessage(
      { id, parts },
      parts.map((p) => p.buffer as ArrayBuffer),
    );
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});
