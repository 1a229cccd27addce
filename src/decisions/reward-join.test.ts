import { describe, expect, it } from "vitest";
import type { StoredReward } from "./decision-record.js";
import { DEFAULT_JOIN, type JoinConfig } from "./join-config.js";
import { classifyReward, joinRewards } from "./reward-join.js";
import { makeDecision } from "./test-fixtures.js";

const reward = (id: string, value: number, timestamp: number, extra: Partial<StoredReward> = {}): StoredReward => ({
  rewardId: id,
  decisionId: "dec_1",
  value,
  type: "click",
  timestamp,
  receivedAt: timestamp,
  source: "api",
  late: false,
  ignored: false,
  ...extra,
});

const twoSlots = makeDecision({
  slots: [
    { position: 0, itemId: "a", index: 0, propensity: 0.5, probabilities: [0.5, 0.5] },
    { position: 1, itemId: "b", index: 1, propensity: 1, probabilities: [0, 1] },
  ],
});

describe("joinRewards", () => {
  const t0 = twoSlots.timestamp;

  it("is pending inside the window and defaulted after it", () => {
    const config: JoinConfig = { ...DEFAULT_JOIN, defaultReward: -0.5 };
    const during = joinRewards({ decision: twoSlots, rewards: [] }, config, t0 + 1000);
    expect(during.status).toBe("pending");
    expect(during.total).toBeUndefined();
    const after = joinRewards({ decision: twoSlots, rewards: [] }, config, t0 + config.windowMs);
    expect(after.status).toBe("defaulted");
    expect(after.slots.map((s) => s.reward)).toEqual([-0.5, -0.5]);
    expect(after.total).toBe(-1);
  });

  it("earliest takes the first reward by time; sum adds them; rewards go to the slot of their item", () => {
    const rewards = [
      reward("r2", 5, t0 + 200, { itemId: "b" }),
      reward("r1", 1, t0 + 100, { itemId: "b" }),
      reward("r3", 2, t0 + 50),
    ];
    const entry = { decision: twoSlots, rewards };
    const earliest = joinRewards(entry, DEFAULT_JOIN, t0 + DEFAULT_JOIN.windowMs);
    expect(earliest.slots.map((s) => [s.status, s.reward])).toEqual([
      ["joined", 2], // no itemId: the decision as a whole, slot 0
      ["joined", 1],
    ]);
    const summed = joinRewards(entry, { ...DEFAULT_JOIN, aggregation: "sum" }, t0 + DEFAULT_JOIN.windowMs);
    expect(summed.slots.map((s) => s.reward)).toEqual([2, 6]);
    expect(summed.total).toBe(8);
  });

  it("never counts late or ignored rewards, but reports late ones", () => {
    const rewards = [
      reward("late", 9, t0 + DEFAULT_JOIN.windowMs + 1, { late: true }),
      reward("ign", 9, t0 + 1, { ignored: true }),
    ];
    const joined = joinRewards({ decision: twoSlots, rewards }, DEFAULT_JOIN, t0 + DEFAULT_JOIN.windowMs * 2);
    expect(joined.status).toBe("defaulted");
    expect(joined.total).toBe(0);
    expect(joined.lateRewards).toBe(1);
  });

  it("orders by server arrival, not by the client's timestamp: earliest is the first to arrive", () => {
    // r1 claims an earlier time but arrived second; r2 arrived first.
    const rewards = [
      reward("r2", 5, t0 + 900, { receivedAt: t0 + 100 }),
      reward("r1", 7, t0 + 10, { receivedAt: t0 + 200 }),
    ];
    const joined = joinRewards({ decision: twoSlots, rewards }, DEFAULT_JOIN, t0 + 1000);
    expect(joined.slots[0]).toMatchObject({ status: "joined", reward: 5, rewardCount: 2 });
    // Ties on arrival keep the log's order.
    const tied = [reward("x", 3, t0 + 50, { receivedAt: t0 + 5 }), reward("y", 4, t0 + 1, { receivedAt: t0 + 5 })];
    expect(joinRewards({ decision: twoSlots, rewards: tied }, DEFAULT_JOIN, t0).slots[0]?.reward).toBe(3);
  });

  it("a never-activated decision has no reward at all", () => {
    const inactive = { ...twoSlots, activated: false };
    const joined = joinRewards({ decision: inactive, rewards: [] }, DEFAULT_JOIN, t0 + DEFAULT_JOIN.windowMs * 10);
    expect(joined.status).toBe("not_activated");
    expect(joined.total).toBeUndefined();
  });
});

describe("classifyReward", () => {
  it("measures the window [activation, activation + window) from activation, not creation", () => {
    const deferred = { activated: true, activatedAt: 10_000, timestamp: 0 };
    expect(classifyReward(deferred, 10_000 + 599_999, 600_000)).toEqual({ late: false, ignored: false });
    expect(classifyReward(deferred, 10_000 + 600_000, 600_000)).toEqual({ late: true, ignored: false });
    expect(classifyReward({ activated: false, timestamp: 0 }, 1, 600_000)).toEqual({ late: false, ignored: true });
  });
});
