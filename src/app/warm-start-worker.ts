import { parentPort, workerData } from "node:worker_threads";
import { restorePolicy } from "../bandit/policy-types.js";
import { isLoopwiseError } from "../core/errors.js";
import { openDecisionLogForWorker } from "./log-stores.js";
import { warmStart } from "./warm-start.js";
import type { WarmStartWorkerData } from "./warm-start-isolated.js";
import { lowerPriority, type WorkerJobMessage } from "./worker-job.js";

/**
 * Worker-thread entry of `warmStartIsolated`: restores the policy from its snapshot, trains it on the
 * decision log (its own connection, `query_only`), and posts the result with the trained snapshot.
 */
async function main(data: WarmStartWorkerData): Promise<void> {
  const post = (m: WorkerJobMessage<unknown>) => parentPort?.postMessage(m);
  lowerPriority();
  const { decisions, close } = await openDecisionLogForWorker(data);
  try {
    const policy = restorePolicy(data.snapshot);
    const clock = { now: () => data.now };
    const result = await warmStart({ decisions, joinConfig: data.joinConfig, clock }, policy, data.range);
    post({ kind: "done", result: { result, snapshot: policy.snapshot() } });
  } catch (error) {
    post({ kind: "failed", code: isLoopwiseError(error) ? error.code : "INTERNAL", message: (error as Error).message });
  } finally {
    await close();
  }
}

void main(workerData as WarmStartWorkerData);
