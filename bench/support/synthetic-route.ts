import { Worker } from "node:worker_threads";
import type { FastifyInstance } from "fastify";

/**
 * A bare route that does a chosen amount of work of each kind a rank does, and nothing else: the calibration
 * behind docs/scaling.md's "What keeps the p99 at 1,000 req/s over 10 ms" (bench/support/tail-floor.ts drives it).
 * Per request: `burnUs` of plain CPU on the event loop, `allocKb` of short-lived objects (a rank allocates ~110
 * KiB), and a round trip to a worker thread that burns `workerUs` before answering (as the log writer's
 * acknowledgement is a round trip). The answer is as small as the bare route's.
 */
export interface SyntheticWork {
  burnUs?: number;
  allocKb?: number;
  workerUs?: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
parentPort.on("message", (id) => {
  const end = process.hrtime.bigint() + BigInt(workerData.workerNs);
  while (process.hrtime.bigint() < end);
  parentPort.postMessage(id);
});`;

export function addSyntheticRoute(app: FastifyInstance, work: SyntheticWork): void {
  const burnNs = BigInt(Math.round((work.burnUs ?? 0) * 1000));
  const objects = Math.round(((work.allocKb ?? 0) * 1024) / 48); // ~48 bytes an object of three fields
  const worker = (work.workerUs ?? 0) > 0 ? roundTrips(work.workerUs as number) : undefined;
  let kept: unknown[] = [];
  app.post("/synthetic", async () => {
    const end = process.hrtime.bigint() + burnNs;
    while (process.hrtime.bigint() < end);
    if (objects > 0) {
      const made: unknown[] = [];
      for (let i = 0; i < objects; i++) made.push({ a: i, b: i * 0.5, c: made.length });
      kept = made; // garbage once the next request replaces it
    }
    if (worker) await worker();
    return { ok: true, kept: kept.length };
  });
}

/** A worker thread that burns `workerUs` per message: `call()` resolves when it answered. */
function roundTrips(workerUs: number): () => Promise<void> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { workerNs: Math.round(workerUs * 1000) } });
  worker.unref();
  const waiting = new Map<number, () => void>();
  let next = 0;
  worker.on("message", (id: number) => {
    waiting.get(id)?.();
    waiting.delete(id);
  });
  return () =>
    new Promise<void>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      worker.postMessage(id);
    });
}
