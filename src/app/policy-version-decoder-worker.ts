import { parentPort } from "node:worker_threads";
import { decodePolicyVersion } from "../duties/learner-snapshots.js";

/** The policy version decoder's thread (policy-version-decoder.ts): decodes a version, transfers its arrays back. */
const port = parentPort;
if (!port) throw new Error("policy-version-decoder-worker.ts runs as a worker thread");
port.on("message", ({ id, parts }: { id: number; parts: Uint8Array[] }) => {
  try {
    const version = decodePolicyVersion(parts.length === 1 ? parts[0]! : joined(parts));
    port.postMessage({ id, version }, buffersOf(version));
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});

/**
 * The parts in one array of its own. Not `Buffer.concat`: below 4 KiB it allocates from Node's shared pool, whose
 * buffer Node marks untransferable (Node 21+ throws when one is in a transfer list; 20 skips it silently).
 */
function joined(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

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
