import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../app/config.js";
import { EngineMetrics } from "../app/metrics.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { MemoryEventLog } from "../storage/memory/event-log-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { MemoryRolloutStore } from "../storage/memory/rollout-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { DutyContext } from "./duty.js";
import { createLearnerDuty, LearnerDuty } from "./learner-duty.js";
import { TEST_POLICY_SPEC } from "./learner-fixtures.js";
import { createWorkerDuties, newLearnerDuties } from "./worker-duties.js";

const T = Date.UTC(2026, 11, 6, 12);

async function context(workers: Record<string, unknown>): Promise<DutyContext> {
  const clock = new ManualClock(T);
  const policies = new MemoryPolicyStore();
  await policies.save(createPolicy("p", TEST_POLICY_SPEC).snapshot(), T);
  return {
    config: parseConfig({ workers }),
    clock,
    logger: pino({ level: "silent" }),
    metrics: new EngineMetrics(),
    stream: createMemoryDecisionStream({ partitions: 2, clock }),
    leases: createMemoryLeaseStore(clock),
    snapshots: createMemorySnapshotStore(),
    decisions: new MemoryDecisionStore(),
    policies,
    workerId: "w",
  };
}

describe("a worker's duties", () => {
  it("run every learner with the configured checkpoint period, settle and slack (workers.learner*)", async () => {
    const ctx = await context({ learnerCheckpoint: "2s", learnerSlack: "30s", learnerSettle: "3s" });
    const duties = await createWorkerDuties(ctx, { events: new MemoryEventLog(), rollouts: new MemoryRolloutStore() });
    expect(duties.map((d) => d.name).sort()).toEqual(["learner:p", "rollout-controller", "stream-trim", "trainer"]);
    const learner = duties.find((d) => d.name === "learner:p");
    expect(learner).toBeInstanceOf(LearnerDuty);
    expect((learner as LearnerDuty).options).toMatchObject({ checkpointMs: 2_000, slackMs: 30_000, settleMs: 3_000 });

    // A policy registered later gets a learner with the same options.
    await ctx.policies.save(createPolicy("q", TEST_POLICY_SPEC).snapshot(), T);
    const later = await newLearnerDuties(ctx, new Set(duties.map((d) => d.name)));
    expect(later.map((d) => d.name)).toEqual(["learner:q"]);
    expect((later[0] as LearnerDuty).options).toMatchObject({ slackMs: 30_000, settleMs: 3_000 });
  });

  it("default to a 5 s slack and a 1 s settle; a learner given a settle above its slack is refused", async () => {
    const ctx = await context({});
    expect(ctx.config.workers).toMatchObject({ learnerSlack: 5_000, learnerSettle: 1_000 });
    expect(() => createLearnerDuty(ctx, "p", { settleMs: 6_000, slackMs: 5_000 })).toThrow(/settleMs.*slackMs/);
    expect(() => createLearnerDuty(ctx, "p", { settleMs: -1 })).toThrow(RangeError);
  });
});
