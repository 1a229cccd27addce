import { hostname } from "node:os";
import type { DutyContext } from "../duties/duty.js";
import { DutyRunner } from "../duties/duty-runner.js";
import { createWorkerDuties, newLearnerDuties } from "../duties/worker-duties.js";
import type { Engine } from "./engine.js";

/** This process's name in leases and consumer groups: unique per process on a host, readable in redis-cli. */
export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}`;
}

/** What every duty factory gets, from the engine's parts (one composition root for API nodes and workers). */
export function dutyContextOf(engine: Engine, workerId = defaultWorkerId()): DutyContext {
  const { parts } = engine;
  return {
    ...parts.stream,
    config: parts.config,
    clock: parts.clock,
    logger: parts.logger,
    metrics: parts.metrics,
    decisions: parts.decisions,
    policies: parts.policyStore,
    workerId,
  };
}

/**
 * The worker half of a process (role worker, or all with Redis): every worker duty under its lease, ticking from
 * now on. Close it before the engine (it stops the duties and releases their leases).
 */
export async function startDutyRunner(engine: Engine, workerId = defaultWorkerId()): Promise<DutyRunner> {
  const ctx = dutyContextOf(engine, workerId);
  const { events, rolloutStore, opeGate, dashboard, logRetention } = engine.parts;
  const stores = {
    events,
    rollouts: rolloutStore,
    opeGate,
    retention: logRetention,
    ...(dashboard ? { audit: dashboard.audit, minutes: dashboard.store } : {}),
  };
  const runner = new DutyRunner(await createWorkerDuties(ctx, stores), {
    leases: ctx.leases,
    clock: ctx.clock,
    logger: ctx.logger,
    holder: workerId,
    ttlMs: ctx.config.workers.leaseTtl,
    registry: ctx.metrics.registry,
  });
  runner.start();
  // A policy registered on any node gets its learner duty here within workers.policyRefresh.
  const timer = setInterval(() => {
    newLearnerDuties(ctx, new Set(runner.names))
      .then((duties) => runner.add(duties))
      .catch((err: unknown) => ctx.logger.warn({ err }, "looking for new policies failed; retrying"));
  }, ctx.config.workers.policyRefresh);
  timer.unref();
  runner.onClose(() => clearInterval(timer));
  return runner;
}
