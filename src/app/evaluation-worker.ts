import { parentPort, workerData } from "node:worker_threads";
import type { Policy } from "../bandit/policy.js";
import { restorePolicy } from "../bandit/policy-types.js";
import { isLoopwiseError } from "../core/errors.js";
import { defaultPolicyResolver, runEvaluation } from "./evaluate.js";
import type { EvaluationWorkerData, EvaluationWorkerMessage } from "./evaluate-isolated.js";
import { openDecisionLogForWorker } from "./log-stores.js";
import { lowerPriority } from "./worker-job.js";

/**
 * Worker-thread entry of `runEvaluationIsolated`: opens the decision log for reading (its own SQLite
 * connection with `query_only`, or its own PostgreSQL connection), runs the evaluation and posts progress and the result.
 * Registered policies arrive as snapshots (`policy:<id>` targets).
 */
async function main(data: EvaluationWorkerData): Promise<void> {
  const post = (m: EvaluationWorkerMessage) => parentPort?.postMessage(m);
  lowerPriority();
  const { decisions, close } = await openDecisionLogForWorker(data);
  const registered = new Map<string, Policy>();
  for (const [id, snapshot] of Object.entries(data.snapshots)) registered.set(id, restorePolicy(snapshot));
  let lastPosted = 0;
  try {
    const result = await runEvaluation(
      data.request,
      {
        decisions,
        joinConfig: data.joinConfig,
        clock: { now: () => data.now },
        resolvePolicy: defaultPolicyResolver({ get: (id) => registered.get(id) }),
      },
      (fraction) => {
        // Progress is cheap to compute but not to post at every batch: at most every 1%.
        if (fraction - lastPosted < 0.01 && fraction < 1) return;
        lastPosted = fraction;
        post({ kind: "progress", fraction });
      },
    );
    post({ kind: "done", result });
  } catch (error) {
    post({
      kind: "failed",
      code: isLoopwiseError(error) ? error.code : "INTERNAL",
      message: (error as Error).message,
    });
  } finally {
    await close();
  }
}

void main(workerData as EvaluationWorkerData);
