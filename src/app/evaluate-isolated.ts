import type { PolicyRegistry } from "../bandit/policy-registry.js";
import type { Clock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import {
  defaultPolicyResolver,
  type EvaluationRequest,
  type EvaluationResult,
  type ProgressListener,
  runEvaluation,
} from "./evaluate.js";
import type { LogLocation } from "./log-stores.js";
import { runWorkerJob, timeLimitError, type WorkerJobMessage } from "./worker-job.js";

/**
 * Offline evaluation off the request path (issue 14, defect 6): a job runs in its own worker thread, which
 * reads the decision log through its own read-only SQLite connection, so rank never waits behind it; a job
 * past its time limit is stopped by terminating the worker, and the worker's memory is released when it
 * exits after the job. An in-memory engine (":memory:", tests and fast simulations) has no file another
 * thread could open: there the job runs in this thread, yielding between batches, and the time limit is
 * checked at every yield.
 */
/** Where the worker opens the log (`LogLocation`: a data dir of ":memory:" runs in this thread). */
export interface IsolatedEvaluationContext extends LogLocation {
  decisions: DecisionStore;
  joinConfig: JoinConfig;
  clock: Clock;
  policies: PolicyRegistry;
  timeLimitMs: number;
}

/** What the worker entry (evaluation-worker.ts) receives. */
export interface EvaluationWorkerData {
  request: EvaluationRequest;
  dbPath: string;
  postgres?: LogLocation["postgres"];
  joinConfig: JoinConfig;
  now: number;
  /** Snapshots of the registered policies the targets name (`policy:<id>`), by id. */
  snapshots: Record<string, unknown>;
}

export type EvaluationWorkerMessage = WorkerJobMessage<EvaluationResult>;

export async function runEvaluationIsolated(
  request: EvaluationRequest,
  ctx: IsolatedEvaluationContext,
  onProgress: ProgressListener = () => {},
): Promise<EvaluationResult> {
  if (ctx.dataDir === ":memory:") return runInThread(request, ctx, onProgress);
  const data: EvaluationWorkerData = {
    request,
    dbPath: ctx.dbPath,
    ...(ctx.postgres ? { postgres: ctx.postgres } : {}),
    joinConfig: ctx.joinConfig,
    now: ctx.clock.now(),
    snapshots: referencedSnapshots(request, ctx.policies),
  };
  return runWorkerJob<EvaluationResult>("evaluation-worker", data, {
    timeLimitMs: ctx.timeLimitMs,
    what: "evaluation",
    onProgress,
  });
}

async function runInThread(
  request: EvaluationRequest,
  ctx: IsolatedEvaluationContext,
  onProgress: ProgressListener,
): Promise<EvaluationResult> {
  const started = performance.now();
  const deps = {
    decisions: ctx.decisions,
    joinConfig: ctx.joinConfig,
    clock: ctx.clock,
    resolvePolicy: defaultPolicyResolver(ctx.policies),
  };
  return runEvaluation(request, deps, (fraction) => {
    if (performance.now() - started > ctx.timeLimitMs) throw timeLimitError("evaluation", ctx.timeLimitMs);
    onProgress(fraction);
  });
}

/** `policy:<id>` targets (also inside `learn:`) need the registered policy: its snapshot goes to the worker. */
function referencedSnapshots(request: EvaluationRequest, policies: PolicyRegistry): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const target of request.targets ?? []) {
    const spec = target.startsWith("learn:") ? target.slice("learn:".length) : target;
    if (!spec.startsWith("policy:")) continue;
    const id = spec.slice("policy:".length);
    const policy = policies.find(id);
    if (!policy) throw new LoopwiseError("POLICY_NOT_FOUND", `no registered policy "${id}"`);
    out[id] = policy.snapshot();
  }
  return out;
}
