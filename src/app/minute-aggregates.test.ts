import { describe, expect, it } from "vitest";
import { MINUTE } from "../core/clock.js";
import { rngFor } from "../core/rng.js";
import type { UserEvent } from "../core/types.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { DashboardAggregates } from "./dashboard-aggregates.js";
import { MemoryMinuteStore } from "./dashboard-ports.js";
import { type AggregateEntry, type AggregatorLimits, MinuteAggregator } from "./minute-aggregates.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const LIMITS: AggregatorLimits = {
  retentionMs: 60 * MINUTE,
  rewardHorizonMs: 20 * MINUTE,
  sessionTtlMs: 30 * MINUTE,
  maxTracked: 1000,
};

function decision(id: string, at: number, extra: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: id,
    timestamp: at,
    userId: "u1",
    sessionId: "s1",
    context: {},
    features: {},
    candidates: [{ id: "a" }, { id: "b" }],
    slots: [
      { position: 0, itemId: "a", index: 0, propensity: 0.5, probabilities: [0.5, 0.5] },
      { position: 1, itemId: "b", index: 1, propensity: 1, probabilities: [0, 1] },
    ],
    policy: { id: "p", type: "uniform", version: 1 },
    baselineItemId: null,
    activated: true,
    candidateSource: "request",
    fallbacks: [],
    ...extra,
  };
}

const reward = (decisionId: string, value: number, itemId?: string) => ({
  kind: "reward" as const,
  outcome: "accepted" as const,
  reward: {
    rewardId: `${decisionId}-${value}-${itemId}`,
    decisionId,
    value,
    type: "reward",
    timestamp: T0,
    source: "api" as const,
    ...(itemId ? { itemId } : {}),
  },
});

const purchase = (value: number, extra: Partial<UserEvent> = {}): UserEvent => ({
  eventId: `e${value}`,
  type: "purchase",
  userId: "u1",
  timestamp: T0 + 2 * MINUTE,
  value,
  ...extra,
});

describe("the per-minute aggregate fold", () => {
  it("counts a reward per slot once with earliest aggregation, every one with sum, and only accepted ones", () => {
    for (const [aggregation, rewardCount, rewardSum] of [
      ["earliest", 2, 3],
      ["sum", 3, 7],
    ] as const) {
      const fold = new MinuteAggregator(LIMITS, aggregation);
      fold.apply({ kind: "decision", record: decision("d1", T0 + 5000) });
      fold.apply(reward("d1", 1));
      fold.apply(reward("d1", 4)); // slot 0 again
      fold.apply(reward("d1", 2, "b"));
      fold.apply({ ...reward("d1", 9, "b"), outcome: "late" });
      fold.apply(reward("d1", 9, "zzz")); // names no shown slot
      fold.apply(reward("unknown", 9));
      const [m] = fold.range("policy:p", T0, T0 + MINUTE);
      expect(m).toMatchObject({ minute: T0, decisions: 1, rewardedDecisions: 1, rewardCount, rewardSum });
    }
  });

  it("counts a session once per series in the minute it started, and its purchases there", () => {
    const fold = new MinuteAggregator(LIMITS);
    const rollout = { id: "ro", stage: 50, arm: "candidate" as const };
    fold.apply({ kind: "decision", record: decision("d1", T0, { rollout }) });
    fold.apply({ kind: "decision", record: decision("d2", T0 + MINUTE, { rollout }) });
    fold.apply({ kind: "decision", record: decision("d3", T0 + MINUTE, { userId: "u2", sessionId: "x" }) });
    // By session id; without one, the user's latest session; by decision id, that decision's session.
    fold.apply({ kind: "events", events: [purchase(10, { sessionId: "s1" }), purchase(5)] });
    fold.apply({ kind: "events", events: [purchase(7, { userId: "u2", decisionId: "d3", eventId: "e7" })] });
    fold.apply({ kind: "events", events: [purchase(99, { userId: "nobody", eventId: "e99" })] }); // never decided
    for (const series of ["policy:p", "rollout:ro:candidate"]) {
      const [first, second] = fold.range(series, T0, T0 + 2 * MINUTE);
      expect(first).toMatchObject({ decisions: 1, sessions: 1, conversions: 1, revenue: 15, revenueSq: 225 });
      if (series === "rollout:ro:candidate") expect(second).toMatchObject({ decisions: 1, sessions: 0, revenue: 0 });
    }
    const [, second] = fold.range("policy:p", T0, T0 + 2 * MINUTE);
    expect(second).toMatchObject({ decisions: 2, sessions: 1, conversions: 1, revenue: 7, revenueSq: 49 });
  });

  it("gives a purchase without a session to the user's latest session, with or without a session id", () => {
    const fold = new MinuteAggregator(LIMITS);
    fold.apply({ kind: "decision", record: decision("d1", T0, { sessionId: "s1" }) });
    fold.apply({ kind: "decision", record: decision("d2", T0 + MINUTE, { sessionId: undefined }) });
    fold.apply({ kind: "events", events: [purchase(4, { timestamp: T0 + 2 * MINUTE })] }); // latest: no session id
    fold.apply({ kind: "decision", record: decision("d3", T0 + 2 * MINUTE, { sessionId: "s1" }) });
    fold.apply({ kind: "events", events: [purchase(6, { eventId: "e6", timestamp: T0 + 3 * MINUTE })] }); // latest: s1
    const [first, second] = fold.range("policy:p", T0, T0 + 3 * MINUTE);
    expect(first).toMatchObject({ minute: T0, sessions: 1, revenue: 6 });
    expect(second).toMatchObject({ minute: T0 + MINUTE, sessions: 1, revenue: 4 });
  });

  it("idles sessions out in bounded slices that drop exactly what one full walk drops", () => {
    const sliced = new MinuteAggregator(LIMITS);
    const whole = new MinuteAggregator(LIMITS);
    // 300 users: the even ones come back at +20 min, so at +40 min only the odd ones idled out (TTL 30 min).
    for (const fold of [sliced, whole]) {
      for (let u = 0; u < 300; u++)
        fold.apply({ kind: "decision", record: decision(`d${u}`, T0, { userId: `u${u}` }) });
      for (let u = 0; u < 300; u += 2)
        fold.apply({
          kind: "events",
          events: [{ eventId: `v${u}`, type: "view", userId: `u${u}`, timestamp: T0 + 20 * MINUTE }],
        });
    }
    whole.prune(T0 + 40 * MINUTE);
    sliced.prune(T0 + 40 * MINUTE, 0);
    expect(sliced.tracked.sessions).toBe(300); // nothing checked yet
    let turns = 0;
    while (!sliced.sweepSessions(T0 + 40 * MINUTE, 64)) turns++;
    expect(turns).toBe(Math.floor(300 / 64)); // 64 at a time, never all in one go
    expect(sliced.tracked).toEqual(whole.tracked);
    expect(sliced.tracked.sessions).toBe(150);
    // An odd user's purchase finds no session either way; an even user's still counts.
    for (const fold of [sliced, whole]) {
      fold.apply({ kind: "events", events: [purchase(5, { userId: "u1", timestamp: T0 + 41 * MINUTE })] });
      fold.apply({
        kind: "events",
        events: [purchase(7, { eventId: "e7", userId: "u2", timestamp: T0 + 41 * MINUTE })],
      });
    }
    expect(sliced.range("policy:p", T0, T0 + MINUTE)).toEqual(whole.range("policy:p", T0, T0 + MINUTE));
    expect(sliced.range("policy:p", T0, T0 + MINUTE)[0]).toMatchObject({ revenue: 7, conversions: 1 });
  });

  it("is bounded: minutes past the retention, decisions past the reward horizon and idle sessions are dropped", () => {
    const fold = new MinuteAggregator({ ...LIMITS, maxTracked: 1000 });
    fold.apply({ kind: "decision", record: decision("old", T0) });
    fold.prune(T0 + 25 * MINUTE); // past the reward horizon (20 min), within the session TTL (30 min)
    fold.apply(reward("old", 1));
    expect(fold.range("policy:p", T0, T0 + MINUTE)[0]?.rewardedDecisions).toBe(0);
    fold.prune(T0 + 31 * MINUTE);
    fold.apply({ kind: "events", events: [purchase(3)] });
    expect(fold.range("policy:p", T0, T0 + MINUTE)[0]?.revenue).toBe(0);
    fold.prune(T0 + 61 * MINUTE);
    expect(fold.range("policy:p", 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    const small = new MinuteAggregator({ ...LIMITS, maxTracked: 2 });
    for (let i = 0; i < 5; i++) small.apply({ kind: "decision", record: decision(`d${i}`, T0, { userId: `u${i}` }) });
    expect(small.forgotten).toBeGreaterThan(0);
    small.apply(reward("d0", 1)); // forgotten: not attributed
    small.apply(reward("d4", 1));
    expect(small.range("policy:p", T0, T0 + MINUTE)[0]).toMatchObject({ decisions: 5, rewardedDecisions: 1 });
  });

  it("flushes only changed minutes, restores them on open, and drops what left the retention from the store", async () => {
    const store = new MemoryMinuteStore();
    const first = await DashboardAggregates.open({ store, limits: LIMITS, aggregation: "earliest" }, T0);
    first.apply({ kind: "decision", record: decision("d1", T0) });
    first.apply({ kind: "decision", record: decision("d2", T0 + 3 * MINUTE) });
    await first.flush(T0 + 4 * MINUTE);
    expect(store.rows.size).toBe(2);
    store.rows.clear();
    await first.flush(T0 + 4 * MINUTE + 1);
    expect(store.rows.size).toBe(0); // nothing changed since
    first.apply(reward("d2", 1));
    await first.flush(T0 + 5 * MINUTE);
    expect([...store.rows.values()]).toMatchObject([{ minute: T0 + 3 * MINUTE, rewardedDecisions: 1 }]);
    const second = await DashboardAggregates.open({ store, limits: LIMITS, aggregation: "earliest" }, T0 + 5 * MINUTE);
    expect(second.range("policy:p", T0, T0 + 10 * MINUTE)).toEqual(
      first.range("policy:p", T0 + 3 * MINUTE, T0 + 10 * MINUTE),
    );
    await second.flush(T0 + 64 * MINUTE);
    expect(store.rows.size).toBe(0);
  });
});

describe("the fold's attribution state under sustained traffic", () => {
  /**
   * 3,000 decisions over 5 minutes: each user makes 3 decisions in a row (half of them in a named session),
   * clicks some shown slots a few decisions later and buys once at the end. The fold tracks at most 200
   * decisions and sessions; everything arrives within that horizon, so each minute must equal a direct count.
   */
  function traffic() {
    const rng = rngFor("minute-fold-bound", "traffic");
    const entries: AggregateEntry[] = [];
    const expected = new Map<
      number,
      { decisions: number; rewarded: number; rewardSum: number; sessions: number; revenue: number }
    >();
    const at = (minute: number) => {
      const m = expected.get(minute) ?? { decisions: 0, rewarded: 0, rewardSum: 0, sessions: 0, revenue: 0 };
      expected.set(minute, m);
      return m;
    };
    const late: AggregateEntry[][] = [];
    for (let i = 0; i < 3000; i++) {
      const ts = T0 + i * 100;
      const minute = Math.floor(ts / MINUTE) * MINUTE;
      const user = Math.floor(i / 3);
      const sessionId = user % 2 === 0 ? `s${user}` : undefined;
      const items = Array.from({ length: 4 }, (_, k) => `item-${(i + k * 7) % 50}`);
      entries.push({
        kind: "decision",
        record: decision(`d${i}`, ts, { userId: `u${user}`, sessionId, slots: slotsOf(items) }),
      });
      const m = at(minute);
      m.decisions++;
      if (i % 3 === 0) m.sessions++;
      // Clicks on distinct slots (earliest: each counts once), delivered 10 decisions later.
      const clicked = items.filter(() => rng.next() < 0.2);
      const later: AggregateEntry[] = clicked.map((item, k) => reward(`d${i}`, k + 1, item));
      if (clicked.length > 0) {
        m.rewarded++;
        m.rewardSum += clicked.reduce((sum, _, k) => sum + k + 1, 0);
      }
      if (i % 3 === 2) {
        const value = 1 + (user % 7);
        const start = Math.floor((ts - 200) / MINUTE) * MINUTE; // the session began two decisions ago
        at(start).revenue += value;
        later.push({
          kind: "events",
          events: [purchase(value, { eventId: `p${user}`, userId: `u${user}`, sessionId, timestamp: ts })],
        });
      }
      late[i + 10] = later;
      for (const e of late[i] ?? []) entries.push(e);
    }
    for (const rest of late.slice(3000)) for (const e of rest ?? []) entries.push(e);
    return { entries, expected };
  }

  it("stays within maxTracked and counts every minute as a direct count of the same log", () => {
    const fold = new MinuteAggregator({ ...LIMITS, maxTracked: 200 });
    const { entries, expected } = traffic();
    let most = 0;
    for (const entry of entries) {
      fold.apply(entry);
      const t = fold.tracked;
      most = Math.max(most, t.decisions, t.sessions, t.latestSessions);
    }
    expect(most).toBe(200); // reached, never passed
    expect(fold.forgotten).toBeGreaterThan(0); // old ones were dropped to stay there
    const rows = fold.range("policy:p", T0, T0 + 10 * MINUTE);
    expect(rows.map((r) => r.minute)).toEqual([...expected.keys()]);
    for (const row of rows) {
      const want = expected.get(row.minute)!;
      expect(row).toMatchObject({
        decisions: want.decisions,
        rewardedDecisions: want.rewarded,
        rewardSum: want.rewardSum,
        sessions: want.sessions,
        conversions: want.sessions,
        revenue: want.revenue,
      });
    }
  });
});

function slotsOf(items: string[]): DecisionRecord["slots"] {
  return items.map((itemId, position) => ({ position, itemId, index: position, propensity: 1, probabilities: [1] }));
}
