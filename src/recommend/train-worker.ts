import { parentPort, workerData } from "node:worker_threads";
import { isLoopwiseError } from "../core/errors.js";
import type { EventLog } from "../events/event-log.js";
import { saveModel } from "./model-store.js";
import { trainFromEventLog } from "./train-from-log.js";
import type { TrainInWorkerRequest, TrainInWorkerResult } from "./train-in-worker.js";

/**
 * Worker-thread entry of `trainInWorker`: opens the event log through the loader it is given (so this folder
 * never imports a storage adapter), trains, saves the model to the data dir and reports its version.
 */
interface Opened {
  log?: EventLog;
  close?: () => Promise<void> | void;
  store?: { close(): Promise<void> | void };
}

async function main(req: TrainInWorkerRequest): Promise<TrainInWorkerResult> {
  const mod = (await import(req.loader.module)) as Record<string, (...args: unknown[]) => unknown>;
  const open = mod[req.loader.exportName];
  if (typeof open !== "function") throw new Error(`${req.loader.module} has no function ${req.loader.exportName}`);
  const opened = (await open(...req.loader.args)) as Opened | EventLog;
  const log = "scan" in opened ? opened : opened.log;
  if (!log) throw new Error(`${req.loader.exportName} returned no event log`);
  try {
    const model = await trainFromEventLog(log, {
      ...(req.model ? { model: req.model } : {}),
      ...(req.params ? { params: req.params } : {}),
      ...(req.from !== undefined ? { from: req.from } : {}),
    });
    const path = await saveModel(model, req.dir);
    return { version: model.version, path };
  } finally {
    const o = opened as Opened;
    if (typeof o.close === "function") await o.close();
    else if (o.store) await o.store.close();
    else await log.close();
  }
}

main(workerData as TrainInWorkerRequest).then(
  (result) => parentPort?.postMessage({ ok: true, result }),
  (error: unknown) =>
    parentPort?.postMessage({
      ok: false,
      message: error instanceof Error ? error.message : String(error),
      // A catalogued error (e.g. CONFLICT: nothing to train on) keeps its code across the thread boundary.
      ...(isLoopwiseError(error) ? { code: error.code } : {}),
    }),
);
