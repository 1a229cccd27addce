import { describe, expect, it } from "vitest";
import { clusterActivity } from "../dashboard/cluster-activity.js";
import { MemoryMinuteStore } from "./dashboard-ports.js";
import { type AggregatorLimits, emptyCounts, MINUTE_MS, type MinuteRow } from "./minute-aggregates.js";
import { SharedMinutes } from "./shared-minutes.js";

const NOW = Date.UTC(2026, 11, 6, 18, 30, 20);
const limits: AggregatorLimits = {
  retentionMs: 14 * 86_400_000,
  rewardHorizonMs: 20 * MINUTE_MS,
  sessionTtlMs: 2 * 3_600_000,
  maxTracked: 1000,
};
const minuteAgo = (k: number) => Math.floor(NOW / MINUTE_MS) * MINUTE_MS - k * MINUTE_MS;
const row = (series: string, minute: number, decisions: number, rewardedDecisions = 0): MinuteRow => ({
  series,
  minute,
  ...emptyCounts(),
  decisions,
  rewardedDecisions,
  rewardSum: rewardedDecisions,
});

/** What a scale-out node's dashboard reads: the `dashboard-fold` duty's stored minutes, re-read as they change. */
describe("the shared minutes a scale-out node reads", () => {
  it("shows what the fold stored, and what it stores later after a refresh", async () => {
    const store = new MemoryMinuteStore();
    await store.save([row("policy:a", minuteAgo(3), 4, 1), row("policy:b", minuteAgo(3), 2)]);
    const minutes = await SharedMinutes.open(store, limits, NOW);
    expect(minutes.shared).toBe(true);
    expect(minutes.range("policy:a", 0, NOW + MINUTE_MS)).toEqual([row("policy:a", minuteAgo(3), 4, 1)]);
    // The duty folds more: a reward into the old minute, decisions into a new one.
    await store.save([row("policy:a", minuteAgo(3), 4, 3), row("policy:a", minuteAgo(0), 7)]);
    expect(minutes.range("policy:a", 0, NOW + MINUTE_MS).map((r) => r.decisions)).toEqual([4]); // not re-read yet
    await minutes.refresh(NOW + 1_000);
    expect(minutes.range("policy:a", 0, NOW + MINUTE_MS)).toEqual([
      row("policy:a", minuteAgo(3), 4, 3),
      row("policy:a", minuteAgo(0), 7),
    ]);
    expect(minutes.seriesNames()).toEqual(["policy:a", "policy:b"]);
  });

  it("gives the overview the cluster's last hour per policy and decisions per minute", async () => {
    const store = new MemoryMinuteStore();
    await store.save([
      row("policy:a", minuteAgo(0), 5, 2),
      row("policy:a", minuteAgo(59), 3, 1),
      row("policy:a", minuteAgo(60), 100), // outside the last hour
      row("policy:b", minuteAgo(10), 4),
      row("rollout:r:candidate", minuteAgo(0), 5), // an arm's series repeats its policy's decisions
    ]);
    const view = clusterActivity(await SharedMinutes.open(store, limits, NOW), NOW);
    expect(view.policiesLastHour).toEqual([
      { policy: "a", decisions: 8, rewardedDecisions: 3, rewardedShare: 3 / 8, rewardMean: 3 / 8 },
      { policy: "b", decisions: 4, rewardedDecisions: 0, rewardedShare: 0, rewardMean: 0 },
    ]);
    expect(view.decisionsPerMinute).toHaveLength(60);
    expect(view.decisionsPerMinute.reduce((a, m) => a + m.decisions, 0)).toBe(12);
    expect(view.decisionsPerMinute.at(-1)).toEqual({ minute: minuteAgo(0), decisions: 5 });
    expect(view.decisionsPerMinute[0]).toEqual({ minute: minuteAgo(59), decisions: 3 });
  });
});
