import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FEATURE_LAYERS, type Policy, type PolicyCandidate, type PolicyFeedback } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { DEFAULT_JOIN, type JoinConfig } from "../decisions/join-config.js";
import { makeDecision } from "../decisions/test-fixtures.js";
import { LearningLoop } from "./learning.js";
import { EngineMetrics } from "./metrics.js";

/** A decision over `n` candidates (each with features) showing the first `shown` of them, in reverse order. */
function decision(id: string, n: number, shown: number, timestamp = 0): DecisionRecord {
  const candidates = Array.from({ length: n }, (_, i) => ({ id: `item${i}`, features: { price: i, brand: `b${i}` } }));
  const slots = Array.from({ length: shown }, (_, p) => {
    const index = shown - 1 - p;
    return { position: p, itemId: `item${index}`, index, propensity: 0.1, probabilities: [] };
  });
  return makeDecision({ decisionId: id, timestamp, activatedAt: timestamp, candidates, slots });
}

function recordingPolicy(features?: Record<string, unknown>): { policy: Policy; feedback: PolicyFeedback[] } {
  const inner = createPolicy("default", { type: "uniform", ...(features ? { features } : {}) });
  const feedback: PolicyFeedback[] = [];
  const policy = Object.assign(Object.create(inner) as Policy, {
    update: (f: PolicyFeedback) => feedback.push(f),
  });
  return { policy, feedback };
}

function loop(
  join: Partial<JoinConfig> = {},
  limits: { maxPendingBytes?: number; maxPending?: number } = {},
  features?: Record<string, unknown>,
) {
  const { policy, feedback } = recordingPolicy(features);
  const metrics = new EngineMetrics();
  const lines: string[] = [];
  const logger = pino(
    { level: "warn" },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const learning = new LearningLoop({ ...DEFAULT_JOIN, ...join }, { get: () => policy }, metrics, logger, limits);
  return { learning, feedback, metrics, lines };
}

describe("the learning loop holds only what an update needs", () => {
  it("keeps the shown candidates, and updates with the rewarded one and the slots before it", () => {
    const { learning, feedback } = loop();
    learning.track(decision("d1", 100, 3));
    expect(learning.shownItems("d1")).toEqual(["item2", "item1", "item0"]);
    learning.onReward("d1", { rewardId: "r1", itemId: "item1", value: 1, receivedAt: 1 });
    expect(feedback).toHaveLength(1);
    const f = feedback[0]!;
    // The shown slots up to the rewarded one: what its update reads (later slots are not rebuilt per reward).
    expect(f.input.candidates.map((c) => c.id)).toEqual(["item2", "item1"]);
    expect(f.input.candidates[f.index]!.id).toBe("item1");
    expect(f.input.candidates[f.index]!.features).toEqual({ price: 1, brand: "b1" });
    expect(f.input.context).toEqual({ device: "mobile" });
    expect(f.input.profile).toEqual({ session_events: 3 });
    expect(f).toMatchObject({ position: 1, reward: 1, propensity: 0.1 });
    expect(f.placedBefore.map((i) => f.input.candidates[i]!.id)).toEqual(["item2"]);
  });

  it("keeps only the profile features the policy reads, and copies of the shown candidates", () => {
    const record = decision("d1", 5, 2);
    record.features = { session_events: 3, session_views: 2, affinity_x: 0.5, recency: 9 };
    const selective = loop({}, {}, { profile: ["session_*"] });
    selective.learning.track(record);
    selective.learning.onReward("d1", { rewardId: "r", itemId: "item1", value: 1, receivedAt: 1 });
    const f = selective.feedback[0]!;
    expect(f.input.profile).toEqual({ session_events: 3, session_views: 2 });
    expect(f.input.candidates[0]).toEqual(record.candidates[1]);
    expect(f.input.candidates[0]!.features).not.toBe(record.candidates[1]!.features);
    const none = loop({}, {}, { profile: "none" });
    none.learning.track(record);
    none.learning.onReward("d1", { rewardId: "r", itemId: "item1", value: 1, receivedAt: 1 });
    expect(none.feedback[0]!.input.profile).toBeUndefined();
    expect(none.learning.bytes).toBeLessThan(selective.learning.bytes);
  });

  it("gives an update the shown candidates as rank built them: layers, packed numbers, copies, scores", () => {
    const base = { category: "shoes", price: 10 };
    const layered: PolicyCandidate = { id: "L", features: { ...base, price: 12.5, discount: 0.3 }, score: 0.25 };
    layered[FEATURE_LAYERS] = [base, { price: 12.5, discount: 0.3 }];
    const candidates: PolicyCandidate[] = [
      layered,
      { id: "N", features: { price: -1e-9, visits: 3 } },
      { id: "M", features: { brand: "x", new: true, price: 2 }, score: 0 },
      { id: "E" },
      { id: "B", features: base },
    ];
    const slots = [4, 0, 3, 1, 2].map((index, position) => ({
      position,
      itemId: candidates[index]!.id,
      index,
      propensity: 0.1 + position / 100,
      probabilities: [],
    }));
    const record = makeDecision({ decisionId: "d1", timestamp: 0, activatedAt: 0, candidates, slots });
    const { learning, feedback } = loop({ aggregation: "sum" });
    learning.track(record);
    learning.closeWindows(DEFAULT_JOIN.windowMs);
    expect(feedback).toHaveLength(5);
    for (const [slot, f] of feedback.entries()) {
      const original = candidates[slots[slot]!.index]!;
      const got = f.input.candidates[f.index]!;
      expect(f.index).toBe(slot);
      expect(got).toEqual(original);
      expect(got[FEATURE_LAYERS]).toEqual(original[FEATURE_LAYERS]);
      expect(f).toMatchObject({ position: slot, propensity: 0.1 + slot / 100 });
    }
    // A catalog layer is shared, never copied; a request's own feature objects are never kept.
    expect(feedback[1]!.input.candidates[1]![FEATURE_LAYERS]![0]).toBe(base);
    expect(feedback[1]!.input.candidates[1]![FEATURE_LAYERS]![1]).not.toBe(layered[FEATURE_LAYERS]![1]);
    expect(feedback[2]!.input.candidates[2]!.features).not.toBe(candidates[2]!.features);
  });

  it("holds as many bytes for a decision over 1,000 candidates as for one over 10 (same shown slots)", () => {
    const a = loop();
    const b = loop();
    a.learning.track(decision("dec", 1000, 10));
    b.learning.track(decision("dec", 10, 10));
    expect(a.learning.bytes).toBeGreaterThan(0);
    expect(a.learning.bytes).toBe(b.learning.bytes);
  });

  it("says in /metrics how many windows and bytes it holds", async () => {
    const { learning, metrics } = loop();
    learning.track(decision("d1", 50, 5, 0));
    learning.track(decision("d2", 50, 5, 1));
    const text = await metrics.registry.metrics();
    expect(text).toContain("loopwise_learning_pending_windows 2");
    expect(text).toContain(`loopwise_learning_pending_bytes ${learning.bytes}`);
    learning.closeWindows(DEFAULT_JOIN.windowMs + 1);
    expect(await metrics.registry.metrics()).toContain("loopwise_learning_pending_windows 0");
    expect(learning.bytes).toBe(0);
  });
});

describe("past its byte cap the learning loop closes the oldest windows early", () => {
  it("closes the oldest first, learns from what they have, counts and logs it", async () => {
    const one = loop();
    one.learning.track(decision("probe", 20, 2));
    const perDecision = one.learning.bytes;
    const { learning, feedback, metrics, lines } = loop(
      { aggregation: "sum" },
      { maxPendingBytes: Math.floor(perDecision * 3.5) },
    );
    for (let i = 0; i < 10; i++) {
      learning.track(decision(`d${i}`, 20, 2, i));
      learning.onReward(`d${i}`, { rewardId: `r${i}`, itemId: "item1", value: 2, receivedAt: i });
    }
    expect(learning.size).toBe(3);
    expect(learning.bytes).toBeLessThanOrEqual(perDecision * 3.5);
    expect(learning.shownItems("d0")).toBeUndefined();
    expect(learning.shownItems("d6")).toBeUndefined();
    expect(learning.shownItems("d7")).toEqual(["item1", "item0"]);
    // Seven windows closed early: each slot learned once, the rewarded one with its sum, the other the default.
    expect(feedback).toHaveLength(14);
    expect(feedback.filter((f) => f.reward === 2)).toHaveLength(7);
    expect(feedback.filter((f) => f.reward === DEFAULT_JOIN.defaultReward)).toHaveLength(7);
    expect(await metrics.registry.metrics()).toContain(
      'loopwise_learning_windows_closed_early_total{reason="bytes"} 7',
    );
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ closedEarly: 1, msg: expect.stringContaining("closed early") });
  });
});

/** A budget whose clock never moves: slices end on their window count alone (exact counts, whatever the machine). */
const NO_TIME = { ms: 2, now: () => 0 };

describe("the timer's close runs in slices", () => {
  it("closes every ended window, a slice per event-loop turn, learning each exactly as one close would", async () => {
    const { learning, feedback } = loop();
    for (let i = 0; i < 100; i++) learning.track(decision(`d${i}`, 20, 3, i));
    let sizeBetweenSlices: number | undefined;
    setImmediate(() => (sizeBetweenSlices = learning.size)); // queued before: runs after the first slice
    const closing = learning.closeWindowsInSlices(DEFAULT_JOIN.windowMs + 89, 16, NO_TIME);
    expect(learning.size).toBe(100 - 16); // the first slice, synchronously
    const joined = learning.closeWindowsInSlices(DEFAULT_JOIN.windowMs + 94, 16, NO_TIME); // a tick while it runs
    expect(joined).toBe(closing);
    expect(await closing).toBe(95); // windows opened at 0..94 ended by the raised watermark
    expect(sizeBetweenSlices).toBeGreaterThan(0);
    expect(sizeBetweenSlices).toBeLessThan(100 - 16 + 1);
    expect(learning.size).toBe(5);
    expect(feedback).toHaveLength(95 * 3); // every shown slot of every closed window, once
    expect(await learning.closeWindowsInSlices(DEFAULT_JOIN.windowMs + 99, 16, NO_TIME)).toBe(5);
  });

  it("keeps closing on every later call, also after passes that finished in one turn", async () => {
    const { learning, feedback } = loop();
    for (let i = 0; i < 10; i++) learning.track(decision(`d${i}`, 20, 3, i));
    for (let i = 0; i < 10; i++) {
      expect(await learning.closeWindowsInSlices(DEFAULT_JOIN.windowMs + i, 16, NO_TIME)).toBe(1);
      expect(learning.size).toBe(9 - i);
    }
    expect(feedback).toHaveLength(30);
  });

  it("ends a slice once it used its time budget, at least one window a turn, and still closes every ended window", async () => {
    const { learning, feedback } = loop();
    for (let i = 0; i < 40; i++) learning.track(decision(`d${i}`, 20, 3, i));
    // A clock that moves 1 ms per update: a window's close (3 shown slots) costs 3 ms, over the 2 ms budget.
    const budget = { ms: 2, now: () => feedback.length };
    const sizes: number[] = [];
    const watch = () => {
      sizes.push(learning.size);
      if (learning.size > 0) setImmediate(watch);
    };
    setImmediate(watch);
    const closing = learning.closeWindowsInSlices(DEFAULT_JOIN.windowMs + 39, 16, budget);
    expect(learning.size).toBe(39); // one window in the first turn: its close alone spent the budget
    expect(await closing).toBe(40);
    expect(feedback).toHaveLength(40 * 3);
    // Between turns, one window fewer each time: never a slice of 16 in one turn.
    for (let k = 1; k < sizes.length; k++) expect(sizes[k - 1]! - sizes[k]!).toBeLessThanOrEqual(1);
  });
});
