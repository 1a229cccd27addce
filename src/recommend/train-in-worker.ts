import { type ErrorCode, LoopwiseError } from "../core/errors.js";
import { startWorker } from "../core/worker-url.js";
import type { Params } from "./model-family.js";
import { loadModel } from "./model-store.js";
import type { SessionModel } from "./session-model.js";

export interface TrainInWorkerRequest {
  /** How the worker opens the event log: `(await import(module))[exportName](...args)`, returning an EventLog
   * or `{ log, close? }` / `{ log, store }` (openSqliteEventLog's shape). Args must be structured-cloneable. */
  loader: { module: string; exportName: string; args: unknown[] };
  /** Data dir: the model is saved there (atomic rename) and loaded back from it. */
  dir: string;
  model?: string;
  params?: Params;
  from?: number;
}

export interface TrainInWorkerResult {
  version: string;
  path: string;
}

/**
 * Trains in a worker thread, off the request path: the worker reads the log, fits, and saves the model to
 * `dir`; this thread only loads the saved file (a read and a few array copies). Use it as the retrainer's
 * `trainFn`. The worker runs its compiled entry, or its source under tsx (core/worker-url.ts).
 */
export function trainInWorker(req: TrainInWorkerRequest): Promise<SessionModel> {
  return new Promise<TrainInWorkerResult>((resolve, reject) => {
    const worker = startWorker(import.meta.url, "./train-worker", { workerData: req });
    let settled = false;
    type Reply = { ok: true; result: TrainInWorkerResult } | { ok: false; message: string; code?: ErrorCode };
    worker.once("message", (m: Reply) => {
      settled = true;
      if (m.ok) resolve(m.result);
      else if (m.code) reject(new LoopwiseError(m.code, m.message));
      else reject(new Error(`training worker failed: ${m.message}`));
      void worker.terminate();
    });
    worker.once("error", (e) => {
      settled = true;
      reject(e);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`training worker exited with code ${code} before reporting`));
    });
  }).then(async (result) => {
    const model = await loadModel(req.dir);
    if (!model || model.version !== result.version) throw new Error(`model ${result.version} not found in ${req.dir}`);
    return model;
  });
}
