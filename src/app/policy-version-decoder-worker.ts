import { parentPort } from "node:worker_threads";
import { decodePolicyVersion } from "../duties/learner-snapshots.js";

/** The policy version decoder's thread (policy-version-decoder.ts): decodes a version, transfers its arrays back. */
const port = parentPort;
if (!port) throw new Error("policy-version-decoder-worker.ts runs as a worker thread");
port.on("message", ({ id, parts }: { id: number; parts: Uint8Array[] }) => {
  try {
    const version = decodePolicyVersion(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    port.postMessage({ id, version }, buffersOf(version));
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});

/**
 * Every ArrayBuffer under `value`, once: the decoded snapshot's arrays are views into the bytes this thread was
 * handed or joined (aligned ones) or copies the deserializer made, so all of them are this thread's to give away.
 */
function buffersOf(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (typeof v !== "object" || v === null) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
      return;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) visit(child);
  };
  visit(value);
  return [...out];
}
