import { ThreadRequests } from "../core/thread-requests.js";
import { type ColumnarCheckpoint, encodeCheckpoint } from "./learner-checkpoint.js";
import { encodePolicyVersion, type PolicyVersion } from "./learner-snapshots.js";

/**
 * The learner's full checkpoints and full policy versions V8-serialized on a thread of its own: the same bytes as
 * `encodeCheckpoint` / `encodePolicyVersion` here. Why: at the default policy's 2,000 arms each serializes ~35 MB
 * in one call, 30-64 ms of the worker's event loop (which renews its leases between turns), twice per full
 * checkpoint that is also a full publish. What is posted: the snapshot's arm arrays are views into one shared
 * pool (bandit/sliced-snapshot.ts `ArmCopier`), so they are shared, not copied, and stay usable here (the
 * publish and the PolicyStore save read the same snapshot after); the rest (the join's columns, the diagonal
 * part) is copied by the structured clone. The thread starts at the first full and does not keep the process
 * alive while idle; one per process.
 */
class FullEncoder {
  private readonly thread = new ThreadRequests(import.meta.url, "./full-encoder-worker", {
    work: "full encoding",
    thread: "full encoder",
  });

  encode(kind: "checkpoint" | "policyVersion", value: unknown): Promise<Uint8Array> {
    const { id, worker, answer } = this.thread.open<Uint8Array>();
    worker.postMessage({ id, kind, value });
    return answer;
  }
}

/** Below ~1 MiB of arrays a full serializes in about a ms here: less than posting it to the thread. */
const OFF_THREAD_BYTES = 2 ** 20;

let shared: FullEncoder | undefined;

/** `encodeCheckpoint(checkpoint)`, on the encoder's thread when the policy is large (see `FullEncoder`). */
export function encodeCheckpointOffThread(checkpoint: ColumnarCheckpoint): Promise<Uint8Array> {
  if (!large(checkpoint.policy)) return Promise.resolve(encodeCheckpoint(checkpoint));
  shared ??= new FullEncoder();
  return shared.encode("checkpoint", checkpoint);
}

/** `encodePolicyVersion(version)`, on the encoder's thread for a full of a large policy. */
export function encodePolicyVersionOffThread(version: PolicyVersion): Promise<Uint8Array> {
  if (version.kind !== "full" || !large(version.policy)) return Promise.resolve(encodePolicyVersion(version));
  shared ??= new FullEncoder();
  return shared.encode("policyVersion", version);
}

/** Whether the typed arrays under `value` hold at least `OFF_THREAD_BYTES` (what makes a full tens of MB). */
function large(value: unknown): boolean {
  let bytes = 0;
  const visit = (v: unknown): boolean => {
    if (typeof v !== "object" || v === null) return false;
    if (ArrayBuffer.isView(v)) {
      bytes += v.byteLength;
      return bytes >= OFF_THREAD_BYTES;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (visit(child)) return true;
    return false;
  };
  return visit(value);
}
