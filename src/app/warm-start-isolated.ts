import type { BasePolicy } from "../bandit/base-policy.js";
import { restorePolicy } from "../bandit/policy-types.js";
import type { Clock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import type { LogLocation } from "./log-stores.js";
import { type WarmStartRange, type WarmStartResult, warmStart } from "./warm-start.js";
import { runWorkerJob } from "./worker-job.js";

/**
 * A warm start off the request path (issue 14, defect 6): the policy's snapshot goes to a worker thread,
 * which trains a copy on the decision log read through its own read-only SQLite connection, and sends the
 * trained snapshot back; the caller serves the returned policy (the registry swaps it in). An in-memory
 * engine (":memory:") has no file another thread could open: there it trains the given policy in this
 * thread, yielding between batches, as before.
 */
/** Where the worker opens the log (`LogLocation`: a data dir of ":memory:" trains in this thread). */
export interface IsolatedWarmStartContext extends LogLocation {
  decisions: DecisionStore;
  joinConfig: JoinConfig;
  clock: Clock;
  timeLimitMs: number;
}

export interface WarmStartWorkerData {
  snapshot: unknown;
  dbPath: string;
  postgres?: LogLocation["postgres"];
  joinConfig: JoinConfig;
  now: number;
  range: WarmStartRange;
}

export interface WarmStartOutcome {
  result: WarmStartResult;
  /** The trained policy: the one given (in this thread) or a copy restored from the worker's snapshot. */
  policy: BasePolicy;
}

export async function warmStartIsolated(
  ctx: IsolatedWarmStartContext,
  policy: BasePolicy,
  range: WarmStartRange = {},
): Promise<WarmStartOutcome> {
  if (ctx.dataDir === ":memory:") {
    const result = await warmStart(
      { decisions: ctx.decisions, joinConfig: ctx.joinConfig, clock: ctx.clock },
      policy,
      range,
    );
    return { result, policy };
  }
  const data: WarmStartWorkerData = {
    snapshot: policy.snapshot(),
    dbPath: ctx.dbPath,
    ...(ctx.postgres ? { postgres: ctx.postgres } : {}),
    joinConfig: ctx.joinConfig,
    now: ctx.clock.now(),
    range,
  };
  const out = await runWorkerJob<{ result: WarmStartResult; snapshot: unknown }>("warm-start-worker", data, {
    timeLimitMs: ctx.timeLimitMs,
    what: "warm start",
  });
  return { result: out.result, policy: restorePolicy(out.snapshot) };
}
