import type { Duty, DutyContext } from "./duty.js";
import { createStreamTrimDuty } from "./stream-trim.js";

/**
 * Every duty a worker competes for (each under its own lease; duty-runner.ts). The learner (one per policy:
 * `learner:<policyId>`), `rollout-controller`, `dashboard-fold` and `trainer` factories join this list.
 */
export function createWorkerDuties(ctx: DutyContext): Duty[] {
  return [createStreamTrimDuty(ctx)];
}
