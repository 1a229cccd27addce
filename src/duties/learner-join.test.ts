import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EngineMetrics } from "../app/metrics.js";
import type { Policy, PolicyFeedback } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { makeDecision } from "../decisions/test-fixtures.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { encodeRecord } from "../storage/sqlite/record-codec.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import { readJoinColumns } from "./join-columns.js";
import { createLearnerDuties } from "./learner-duty.js";
import { learnerContext } from "./learner-fixtures.js";
import { StreamJoin } from "./learner-join.js";

const T = 1_000_000;
const WINDOW = 10_000;
const SLACK = 2_000;

function joinWithRecorder(): { join: StreamJoin; learned: PolicyFeedback[] } {
  const learned: PolicyFeedback[] = [];
  const policy = Object.assign(Object.create(createPolicy("p", { type: "uniform" })) as Policy, {
    update: (f: PolicyFeedback) => learned.push(f),
  });
  const join = new StreamJoin(
    "p",
    { windowMs: WINDOW, defaultReward: 0, aggregation: "earliest" },
    () => policy,
    new EngineMetrics(),
    pino({ level: "silent" }),
    { slackMs: SLACK, maxAwaiting: 10, awaitActivationMs: 60_000 },
  );
  return { join, learned };
}

function decided(id: string, at: number, deferred = false): StreamEntry {
  const record = makeDecision({
    decisionId: id,
    timestamp: at,
    activated: !deferred,
    policy: { id: "p", type: "uniform", version: 1 },
  });
  if (!deferred) record.activatedAt = at;
  return {
    kind: "decision",
    decision: {
      decisionId: id,
      timestamp: at,
      userId: record.userId,
      policyId: "p",
      activated: !deferred,
      activatedAt: deferred ? null : at,
      bytes: encodeRecord(record),
    },
  };
}

const rewarded = (decisionId: string, receivedAt: number, rewardId = `r-${decisionId}`): StreamEntry => ({
  kind: "reward",
  reward: { rewardId, decisionId, value: 1, type: "click", timestamp: receivedAt, receivedAt, source: "api" },
  windowMs: WINDOW,
});

describe("the learner's join on the stream's time", () => {
  it("counts a reward received inside its window though appended after a later entry, within the slack", () => {
    const { join, learned } = joinWithRecorder();
    join.apply(decided("a", T));
    join.apply(decided("b", T + WINDOW + SLACK - 1)); // the watermark passes a's end, not its end + slack
    join.apply(rewarded("a", T + WINDOW - 1));
    expect(learned.map((f) => f.reward)).toEqual([1]);
    join.apply(rewarded("a", T + WINDOW - 1, "again")); // the slot learned its earliest reward: nothing more
    join.apply(decided("c", T + 3 * WINDOW)); // closes b with its default
    expect(learned.map((f) => f.reward)).toEqual([1, 0]);
  });

  it("judges lateness on receivedAt: a reward at or after the window's end is not learned", () => {
    const { join, learned } = joinWithRecorder();
    join.apply(decided("a", T));
    join.apply(rewarded("a", T + WINDOW));
    join.closeThrough(T + 10 * WINDOW);
    expect(learned.map((f) => f.reward)).toEqual([0]);
  });

  it("opens a deferred decision's window at its activation, once", () => {
    const { join, learned } = joinWithRecorder();
    join.apply(decided("d", T, true));
    join.apply(rewarded("d", T + 100, "before")); // not active yet: ignored
    join.apply({ kind: "activate", decisionId: "d", at: T + 5_000 });
    join.apply({ kind: "activate", decisionId: "d", at: T + 6_000 }); // a retried activation changes nothing
    expect(join.openWindows).toBe(1);
    join.apply(rewarded("d", T + 5_000 + WINDOW - 1));
    join.closeThrough(T + 10 * WINDOW);
    expect(learned.map((f) => f.reward)).toEqual([1]);
    expect(join.waiting).toBe(0);
  });

  it("ignores a decision re-appended after its window closed (at-least-once delivery)", () => {
    const { join, learned } = joinWithRecorder();
    join.apply(decided("a", T));
    join.closeThrough(T + WINDOW);
    expect(learned).toHaveLength(1);
    join.apply(decided("a", T)); // remembered for a window after its end
    join.closeThrough(T + 5 * WINDOW);
    join.apply(decided("a", T)); // forgotten, but its whole window is behind the stream's time
    join.closeThrough(T + 10 * WINDOW);
    expect(learned).toHaveLength(1);
    expect(join.ignoredDecisions).toBe(2);
  });

  it("a checkpointed state restores into a fresh join that continues identically", () => {
    const first = joinWithRecorder();
    first.join.apply(decided("a", T));
    first.join.apply(decided("d", T + 10, true));
    const second = joinWithRecorder();
    second.join.restore(structuredClone(first.join.toState()));
    for (const { join } of [first, second]) {
      join.apply({ kind: "activate", decisionId: "d", at: T + 20 });
      join.apply(rewarded("a", T + 30));
      join.apply(decided("a", T)); // still a duplicate after the restore
      join.closeThrough(T + 10 * WINDOW);
    }
    expect(second.learned.map((f) => [f.reward, f.input.candidates[f.index]!.id])).toEqual(
      first.learned.map((f) => [f.reward, f.input.candidates[f.index]!.id]),
    );
    expect(second.learned).toHaveLength(2);
  });

  it("encodes its state for a full checkpoint in slices, yielding between, and refuses to change meanwhile", async () => {
    const { join } = joinWithRecorder();
    for (let i = 0; i < 7; i++) join.apply(decided(`d${i}`, T + i));
    join.apply(decided("w", T + 8, true));
    join.apply(rewarded("d3", T + 9));
    let pauses = 0;
    const columns = await join.encodeState(async () => {
      pauses++;
      expect(() => join.apply(decided("late", T + 10))).toThrow(/changed while a checkpoint read it/);
    }, 3);
    expect(pauses).toBe(5); // 7 windows read 3 at a time (2 pauses), then the deferred, the seen ids, the columns
    const { windows, awaiting, seen } = readJoinColumns(structuredClone(columns.columns));
    const { watermark, closedThrough } = columns;
    expect({ windows, awaiting, seen, watermark, closedThrough }).toEqual(join.toState());
    join.apply(decided("after", T + 11)); // free again once encoded
    expect(join.openWindows).toBe(8);
  });
});

describe("createLearnerDuties", () => {
  it("makes one duty per stored policy, and on a refresh only for policies registered since", async () => {
    const clock = new ManualClock(T);
    const policies = new MemoryPolicyStore();
    await policies.save(createPolicy("p", { type: "uniform" }).snapshot(), T);
    const ctx = learnerContext({
      adapters: {
        stream: createMemoryDecisionStream({ partitions: 1 }),
        leases: createMemoryLeaseStore(clock),
        snapshots: createMemorySnapshotStore(),
      },
      policies,
      clock,
      workerId: "w",
      windowMs: WINDOW,
    });
    const first = await createLearnerDuties(ctx);
    expect(first.map((d) => d.name)).toEqual(["learner:p"]);
    await policies.save(createPolicy("q", { type: "uniform" }).snapshot(), T);
    const refresh = await createLearnerDuties(ctx, new Set(first.map((d) => d.name)));
    expect(refresh.map((d) => d.name)).toEqual(["learner:q"]);

    await first[0]!.start((await ctx.leases.acquire("learner:p", "w", 60_000))!);
    const text = await ctx.metrics.registry.metrics();
    expect(text).toContain('loopwise_learner_published_version{policy="p"} 1');
    expect(text).toContain('loopwise_learner_open_windows{policy="p"} 0');
    expect(text).not.toContain('policy="q"'); // not holding q's lease: a standby reports nothing
  });
});
