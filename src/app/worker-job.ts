import { setPriority } from "node:os";
import { type ErrorCode, LoopwiseError } from "../core/errors.js";
import { startWorker } from "../core/worker-url.js";

/**
 * One costly job in its own worker thread (issue 14, defect 6): offline evaluations and warm starts. The
 * job cannot slow the event loop that serves rank; past `timeLimitMs` the worker is terminated and the job
 * fails with the reason; the worker exits after the job, so its heap (the log, models) is released.
 * Workers post `{kind: "progress", fraction}`, then `{kind: "done", result}` or
 * `{kind: "failed", code, message}`.
 */
export type WorkerJobMessage<R> =
  | { kind: "progress"; fraction: number }
  | { kind: "done"; result: R }
  | { kind: "failed"; code: string; message: string };

export function runWorkerJob<R>(
  entryName: string,
  data: unknown,
  options: { timeLimitMs: number; what: string; onProgress?: (fraction: number) => void },
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    // Its compiled entry, or the source under tsx (core/worker-url.ts).
    const worker = startWorker(import.meta.url, `./${entryName}`, { workerData: data });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(
      () => finish(() => reject(timeLimitError(options.what, options.timeLimitMs))),
      options.timeLimitMs,
    );
    worker.on("message", (m: WorkerJobMessage<R>) => {
      if (m.kind === "progress") options.onProgress?.(m.fraction);
      else if (m.kind === "done") finish(() => resolve(m.result));
      else finish(() => reject(workerFailure(m)));
    });
    worker.once("error", (e) => finish(() => reject(e)));
    worker.once("exit", (code) =>
      finish(() => reject(new Error(`the ${options.what} worker exited with code ${code} before reporting`))),
    );
  });
}

export function timeLimitError(what: string, ms: number): LoopwiseError {
  return new LoopwiseError(
    "UNAVAILABLE",
    `the ${what} exceeded its time limit of ${Math.round(ms / 1000)} s (config evaluations.timeLimit) and was stopped; use a shorter range of the log${what === "evaluation" ? ", fewer targets or fewer bootstrap resamples" : ""}`,
  );
}

function workerFailure(m: { code: string; message: string }): Error {
  return m.code === "INTERNAL" || m.code === ""
    ? new Error(m.message)
    : new LoopwiseError(m.code as ErrorCode, m.message);
}

/**
 * A worker job is background work: on Linux, setpriority(PRIO_PROCESS, 0) sets the nice value of the
 * calling thread only (a per-thread attribute there), so this worker yields the CPU to the event loop's
 * thread, which serves rank, when cores are scarce. Elsewhere it may apply to the process or fail: only
 * attempted on Linux, and a failure changes nothing else.
 */
export function lowerPriority(): void {
  if (process.platform !== "linux") return;
  try {
    setPriority(0, 19);
  } catch {
    // Not permitted or not supported: the job runs at normal priority.
  }
}
