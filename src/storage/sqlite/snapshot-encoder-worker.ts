import { parentPort } from "node:worker_threads";
import { snapshotJson } from "../../bandit/snapshot-codec.js";

/** The snapshot encoder's thread (snapshot-encoder.ts): JSON as UTF-8 bytes, transferred back. */
const port = parentPort;
if (!port) throw new Error("snapshot-encoder-worker.ts runs as a worker thread");
port.on("message", ({ id, snapshot }: { id: number; snapshot: unknown }) => {
  try {
    const text = Buffer.from(snapshotJson(snapshot), "utf8");
    // A fresh array that owns its whole buffer, so it can be transferred (a small Buffer may sit in a shared pool).
    const bytes = text.byteOffset === 0 && text.byteLength === text.buffer.byteLength ? text : new Uint8Array(text);
    port.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});
