import { hostname } from "node:os";
import type { DutyContext } from "../duties/duty.js";
import { DutyRunner } from "../duties/duty-runner.js";
import { createWorkerDuties } from "../duties/worker-duties.js";
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
export function startDutyRunner(engine: Engine, workerId = defaultWorkerId()): DutyRunner {
  const ctx = dutyContextOf(engine, workerId);
  const runner = new DutyRunner(createWorkerDuties(ctx), {
    leases: ctx.leases,
    clock: ctx.clock,
    logger: ctx.logger,
    holder: workerId,
    ttlMs: ctx.config.workers.leaseTtl,
    registry: ctx.metrics.registry,
  });
  runner.start();
  return runner;
}
