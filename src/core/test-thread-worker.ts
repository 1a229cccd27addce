import { parentPort } from "node:worker_threads";

/** A thread for thread-requests.test.ts: answers `echo` with its value, `fail` with an error, and dies on `exit`. */
const port = parentPort;
if (!port) throw new Error("test-thread-worker.ts runs as a worker thread");
port.on("message", (msg: { id: number; kind: "echo" | "fail" | "exit"; value?: unknown }) => {
  if (msg.kind === "echo") port.postMessage({ id: msg.id, value: msg.value });
  else if (msg.kind === "fail") port.postMessage({ id: msg.id, error: "as asked" });
  else process.exit(3);
});
