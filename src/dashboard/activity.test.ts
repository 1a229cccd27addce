import { describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import type { DecisionRecord, RewardRecord } from "../decisions/decision-record.js";
import { DashboardActivity } from "./activity.js";

function decision(id: string, policy: string, at: number, items = ["a", "b", "c"]): DecisionRecord {
  return {
    decisionId: id,
    timestamp: at,
    userId: `user-${id}`,
    context: {},
    features: {},
    candidates: items.map((i) => ({ id: i })),
    slots: items.map((itemId, position) => ({
      position,
      itemId,
      index: position,
      propensity: 1 / (items.length - position),
      probabilities: [],
    })),
    policy: { id: policy, type: "t", version: 1 },
    baselineItemId: items[0] ?? null,
    activated: true,
    activatedAt: at,
    candidateSource: "request",
    fallbacks: [],
  };
}

const reward = (decisionId: string, value: number, itemId?: string): RewardRecord => ({
  rewardId: `${decisionId}-${value}-${itemId}`,
  decisionId,
  value,
  type: "click",
  timestamp: 0,
  source: "api",
  ...(itemId === undefined ? {} : { itemId }),
});

describe("DashboardActivity", () => {
  it("counts decisions per policy and attributes only counted rewards, like the join", () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const activity = new DashboardActivity(clock, { aggregation: "earliest", windowMs: 10 * MINUTE });
    activity.onDecision(decision("d1", "ts", clock.now()));
    activity.onDecision(decision("d2", "ts", clock.now()));
    activity.onDecision(decision("d3", "uniform", clock.now()));
    activity.onReward(reward("d1", 1), "accepted"); // slot 0
    activity.onReward(reward("d1", 5), "accepted"); // slot 0 again: earliest keeps the first
    activity.onReward(reward("d1", 2, "c"), "accepted"); // slot 2
    activity.onReward(reward("d1", 7, "zzz"), "accepted"); // names no shown slot
    activity.onReward(reward("d2", 3), "late");
    activity.onReward(reward("d3", 4), "duplicate");
    activity.onReward(reward("unknown", 1), "accepted");
    const hour = activity.policiesLastHour();
    expect(hour).toEqual([
      { policy: "ts", decisions: 2, rewardedDecisions: 1, rewardedShare: 0.5, rewardMean: 1.5 },
      { policy: "uniform", decisions: 1, rewardedDecisions: 0, rewardedShare: 0, rewardMean: 0 },
    ]);
    const recent = activity.recent();
    expect(recent.map((d) => d.decisionId)).toEqual(["d3", "d2", "d1"]);
    expect(recent[2]).toMatchObject({ reward: 3, rewardCount: 2, items: ["a", "b", "c"], topPropensity: 1 / 3 });
  });

  it("sums a slot's rewards with `sum` aggregation", () => {
    const clock = new ManualClock();
    const activity = new DashboardActivity(clock, { aggregation: "sum", windowMs: 10 * MINUTE });
    activity.onDecision(decision("d1", "p", clock.now()));
    activity.onReward(reward("d1", 1), "accepted");
    activity.onReward(reward("d1", 5), "accepted");
    expect(activity.policiesLastHour()[0]).toMatchObject({ decisions: 1, rewardedDecisions: 1, rewardMean: 6 });
  });

  it("keeps one hour of minutes, a bounded ring, and forgets decisions past their window", () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const activity = new DashboardActivity(clock, { aggregation: "earliest", windowMs: 5 * MINUTE }, { recent: 3 });
    activity.onDecision(decision("old", "p", clock.now()));
    activity.onEvents([{ eventId: "e1", type: "view", userId: "u", timestamp: clock.now() }]);
    clock.advance(30 * MINUTE);
    for (const id of ["a", "b", "c", "d"]) activity.onDecision(decision(id, "p", clock.now()));
    activity.onEvents([
      { eventId: "e2", type: "click", userId: "u", timestamp: clock.now() },
      { eventId: "e3", type: "view", userId: "u", timestamp: clock.now() },
    ]);
    activity.onReward(reward("old", 1), "accepted"); // 30 min later: no longer tracked
    expect(activity.policiesLastHour()[0]).toMatchObject({ decisions: 5, rewardedDecisions: 0 });
    expect(activity.recent().map((d) => d.decisionId)).toEqual(["d", "c", "b"]);
    expect(activity.eventsByType()).toEqual([
      { type: "view", total: 2, lastHour: 2 },
      { type: "click", total: 1, lastHour: 1 },
    ]);
    const perMinute = activity.decisionsPerMinute();
    expect(perMinute).toHaveLength(60);
    expect(perMinute.reduce((a, p) => a + p.decisions, 0)).toBe(5);
    expect(perMinute.at(-1)?.decisions).toBe(4);
    clock.advance(31 * MINUTE);
    activity.onDecision(decision("e", "p", clock.now())); // prunes the minute of "old"
    expect(activity.policiesLastHour()[0]).toMatchObject({ decisions: 5 });
    expect(activity.eventsByType()).toEqual([
      { type: "view", total: 2, lastHour: 1 },
      { type: "click", total: 1, lastHour: 1 },
    ]);
  });

  it("bounds the decisions it tracks for attribution", () => {
    const clock = new ManualClock();
    const activity = new DashboardActivity(clock, { aggregation: "earliest", windowMs: MINUTE }, { maxTracked: 2 });
    for (const id of ["a", "b", "c"]) activity.onDecision(decision(id, "p", clock.now()));
    expect(activity.forgotten).toBe(1);
    activity.onReward(reward("a", 1), "accepted");
    activity.onReward(reward("c", 1), "accepted");
    expect(activity.policiesLastHour()[0]).toMatchObject({ decisions: 3, rewardedDecisions: 1 });
  });

  it("attributes a reward to a decision that left the recent list, by slot, and counts it once", () => {
    const clock = new ManualClock();
    const activity = new DashboardActivity(clock, { aggregation: "earliest", windowMs: MINUTE }, { recent: 2 });
    activity.onDecision(decision("first", "p", clock.now(), ["x", "y", "z"]));
    for (const id of ["b", "c", "d"]) activity.onDecision(decision(id, "p", clock.now()));
    activity.onReward(reward("first", 2, "z"), "accepted"); // slot 2 of a decision no longer listed
    activity.onReward(reward("first", 9, "z"), "accepted"); // same slot: earliest keeps the first
    activity.onReward(reward("d", 4, "b"), "accepted"); // listed: its line shows the reward
    expect(activity.trackedDecisions).toBe(4);
    expect(activity.policiesLastHour()[0]).toMatchObject({ decisions: 4, rewardedDecisions: 2, rewardMean: 1.5 });
    expect(activity.recent().map((d) => [d.decisionId, d.reward, d.rewardCount])).toEqual([
      ["d", 4, 1],
      ["c", 0, 0],
    ]);
  });

  it("bounds event types: the top 20 by name, the rest summed as (other), at most 1000 tracked", () => {
    const clock = new ManualClock();
    const activity = new DashboardActivity(clock, { aggregation: "earliest", windowMs: MINUTE });
    const types = Array.from({ length: 5000 }, (_, i) => `custom_${i}`);
    // custom_0 is the most frequent (3 events), custom_1 next (2), every other type once.
    const events = [...types, "custom_0", "custom_0", "custom_1"].map((type, i) => ({
      eventId: `e${i}`,
      type,
      userId: "u",
      timestamp: clock.now(),
    }));
    activity.onEvents(events);
    const rows = activity.eventsByType();
    expect(rows).toHaveLength(21);
    expect(rows.slice(0, 2)).toEqual([
      { type: "custom_0", total: 3, lastHour: 3 },
      { type: "custom_1", total: 2, lastHour: 2 },
    ]);
    expect(rows.at(-1)).toEqual({ type: "(other)", total: 5003 - 3 - 2 - 18, lastHour: 5003 - 3 - 2 - 18 });
    expect(rows.reduce((s, r) => s + r.total, 0)).toBe(5003);
    expect(JSON.stringify(rows).length).toBeLessThan(2000);
  });
});
