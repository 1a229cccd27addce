import { parentPort } from "node:worker_threads";
import { type ColumnarCheckpoint, encodeCheckpoint } from "./learner-checkpoint.js";
import { encodePolicyVersion, type PolicyVersion } from "./learner-snapshots.js";

/** The full encoder's thread (full-encoder.ts): a full checkpoint's or policy version's bytes, transferred back. */
const port = parentPort;
if (!port) throw new Error("full-encoder-worker.ts runs as a worker thread");
type Job = { id: number } & (
  | { kind: "checkpoint"; value: ColumnarCheckpoint }
  | { kind: "policyVersion"; value: PolicyVersion }
);
port.on("message", (job: Job) => {
  try {
    const bytes = job.kind === "checkpoint" ? encodeCheckpoint(job.value) : encodePolicyVersion(job.value);
    // The serializer's buffer is this thread's own (releaseBuffer), so it can move.
    port.postMessage({ id: job.id, value: bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id: job.id, error: (error as Error).message });
  }
});
