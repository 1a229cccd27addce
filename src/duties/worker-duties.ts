import { auditedFencingStore, HoldRecorder } from "../app/audit-log.js";
import { aggregatorLimitsOf } from "../app/dashboard-duties.js";
import type { AuditLog, FencingMinuteStore, MinuteStore } from "../app/dashboard-ports.js";
import type { LogRetention } from "../decisions/log-retention.js";
import type { EventLog } from "../events/event-log.js";
import type { FencingRolloutStore, RolloutStore } from "../rollout/rollout-store.js";
import type { OpeGate } from "../rollout/rollout-types.js";
import { createDashboardFoldDuty } from "./dashboard-fold.js";
import type { Duty, DutyContext } from "./duty.js";
import { createLearnerDuties, type LearnerDutyOptions } from "./learner-duty.js";
import { createLogRetentionDuty } from "./log-retention.js";
import { createRolloutDuty } from "./rollout-duty.js";
import { createStreamTrimDuty } from "./stream-trim.js";
import { createTrainerDuty } from "./trainer-duty.js";

/** What some duties need beyond the context: the stores they write and the OPE gate. */
export interface WorkerStores {
  /** The durable event log the trainer learns the recommender from. */
  events: EventLog;
  /** The rollouts' store; the rollout duty runs only where it takes fencing tokens (PostgreSQL, memory). */
  rollouts: RolloutStore;
  opeGate?: OpeGate;
  /** The audit timeline (`/v1/audit`): the rollout duty's transitions and holds go there, as in one process. */
  audit?: AuditLog;
  /** The durable log's retention and partition upkeep (the `log-retention` duty). */
  retention?: LogRetention;
  /** The dashboard's minutes every node reads; the `dashboard-fold` duty runs where they take fencing tokens. */
  minutes?: MinuteStore;
}

/**
 * Every duty a worker competes for, each under its own lease (duty-runner.ts): the stream trimmer, the log's
 * retention, the rollout controller, the dashboard's fold, the recommender trainer, and one joiner + learner per policy (`learner:<policyId>`; policies
 * registered later join through `newLearnerDuties`).
 */
export async function createWorkerDuties(ctx: DutyContext, stores: WorkerStores): Promise<Duty[]> {
  const duties: Duty[] = [createStreamTrimDuty(ctx), createTrainerDuty(ctx, { events: stores.events })];
  if (stores.retention) duties.push(createLogRetentionDuty(ctx, stores.retention));
  if (isFencing(stores.rollouts)) {
    const { audit } = stores;
    const holds = audit && new HoldRecorder(audit);
    duties.push(
      createRolloutDuty(ctx, {
        store: audit ? auditedFencingStore(stores.rollouts, audit) : stores.rollouts,
        ...(holds ? { onTick: (results, now, stats) => holds.record(results, now, stats) } : {}),
        ...(stores.opeGate ? { opeGate: stores.opeGate } : {}),
        // The candidate becomes the default in the shared store; API nodes pick it up (app/scale-out-serving.ts).
        onPromote: (rollout) => ctx.policies.setDefault(rollout.candidate),
      }),
    );
  } else {
    ctx.logger.warn("the rollout store takes no fencing tokens (SQLite): no rollout-controller duty on this worker");
  }
  if (stores.minutes && isFencingMinutes(stores.minutes)) {
    duties.push(
      createDashboardFoldDuty(ctx, {
        store: stores.minutes,
        limits: aggregatorLimitsOf(ctx.config),
        aggregation: ctx.config.rewards.aggregation,
        checkpointMs: ctx.config.workers.learnerCheckpoint,
      }),
    );
  }
  duties.push(...(await createLearnerDuties(ctx, new Set(), learnerOptionsOf(ctx))));
  return duties;
}

/** Learner duties for policies stored since `have` (duty names) was made. */
export function newLearnerDuties(ctx: DutyContext, have: ReadonlySet<string>): Promise<Duty[]> {
  return createLearnerDuties(ctx, have, learnerOptionsOf(ctx));
}

function learnerOptionsOf(ctx: DutyContext): Partial<LearnerDutyOptions> {
  const { learnerCheckpoint, learnerSettle, learnerSlack } = ctx.config.workers;
  return { checkpointMs: learnerCheckpoint, settleMs: learnerSettle, slackMs: learnerSlack };
}

function isFencing(store: RolloutStore): store is FencingRolloutStore {
  return typeof (store as Partial<FencingRolloutStore>).fenced === "function";
}

function isFencingMinutes(store: MinuteStore): store is FencingMinuteStore {
  return typeof (store as Partial<FencingMinuteStore>).fenced === "function";
}
