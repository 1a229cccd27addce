import { parentPort } from "node:worker_threads";
import { joinParts } from "../bandit/snapshot-binary.js";
import { transferablesOf } from "../core/transferables.js";
import { decodePolicyVersion } from "../duties/learner-snapshots.js";

/** The policy version decoder's thread (policy-version-decoder.ts): decodes a version, transfers its arrays back. */
const port = parentPort;
if (!port) throw new Error("policy-version-decoder-worker.ts runs as a worker thread");
port.on("message", ({ id, parts }: { id: number; parts: Uint8Array[] }) => {
  try {
    const version = decodePolicyVersion(joinParts(parts));
    port.postMessage({ id, value: version }, transferablesOf(version));
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});
