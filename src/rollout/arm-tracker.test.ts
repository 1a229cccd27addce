import { describe, expect, it } from "vitest";
import { rngFor } from "../core/rng.js";
import type { UserEvent } from "../core/types.js";
import { ArmTracker } from "./arm-tracker.js";
import type { Arm } from "./rollout-types.js";

const limits = { sessionTtlMs: 1_000_000, clickWindowMs: 1_000_000 };
const ev = (
  type: string,
  userId: string,
  sessionId: string | undefined,
  timestamp: number,
  extra: Partial<UserEvent> = {},
): UserEvent => ({
  eventId: `${type}-${userId}-${timestamp}`,
  type,
  userId,
  sessionId,
  timestamp,
  ...extra,
});

describe("ArmTracker", () => {
  it("keeps per-session sums equal to a recomputation from the raw sessions", () => {
    const rng = rngFor("tracker-test", "1");
    const t = new ArmTracker(limits);
    const truth = new Map<string, { arm: Arm; d: number; c: number; r: number; p: boolean }>();
    let time = 0;
    for (let i = 0; i < 3000; i++) {
      const s = `s${Math.floor(rng.next() * 400)}`;
      const user = `u-${s}`;
      const arm: Arm = Number(s.slice(1)) % 3 === 0 ? "candidate" : "incumbent";
      const row = truth.get(s) ?? { arm, d: 0, c: 0, r: 0, p: false };
      truth.set(s, row);
      time++;
      const kind = rng.next();
      if (kind < 0.5 || row.d === 0) {
        t.onDecision({ rolloutId: "r", arm, userId: user, sessionId: s, timestamp: time, decisionId: `d${i}` });
        row.d++;
        if (rng.next() < 0.3) {
          t.onEvent(ev("click", user, s, time, { decisionId: `d${i}` }));
          row.c++;
        }
      } else if (kind < 0.6) {
        const v = Math.round(rng.next() * 100);
        t.onEvent(ev("purchase", user, s, time, { value: v }));
        row.r += v;
        row.p = true;
      } else {
        t.onEvent(ev("view", user, s, time));
      }
    }
    for (const arm of ["candidate", "incumbent"] as const) {
      const rows = [...truth.values()].filter((r) => r.arm === arm);
      const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
      expect(t.counters[arm]).toMatchObject({
        sessions: rows.length,
        decisions: sum((r) => r.d),
        clickedDecisions: sum((r) => r.c),
        sumDecisionsSq: sum((r) => r.d * r.d),
        sumClickedSq: sum((r) => r.c * r.c),
        sumClickedDecisions: sum((r) => r.c * r.d),
        convertedSessions: sum((r) => (r.p ? 1 : 0)),
      });
      expect(t.counters[arm].revenue).toBeCloseTo(
        sum((r) => r.r),
        6,
      );
      expect(t.counters[arm].sumRevenueSq).toBeCloseTo(
        sum((r) => r.r * r.r),
        3,
      );
    }
  });

  it("attributes clicks by decisionId, else to the session's last decision, once per decision", () => {
    const t = new ArmTracker(limits);
    t.onDecision({ rolloutId: "r", arm: "candidate", userId: "u", sessionId: "s", timestamp: 1, decisionId: "d1" });
    t.onDecision({ rolloutId: "r", arm: "candidate", userId: "u", sessionId: "s", timestamp: 2 });
    t.onEvent(ev("click", "u", "s", 3)); // the last decision (no id)
    t.onEvent(ev("click", "u", "s", 4)); // again the last one: counted as a click, not a new clicked decision
    t.onEvent(ev("click", "u", "s", 5, { decisionId: "d1" }));
    expect(t.counters.candidate).toMatchObject({ decisions: 2, clicks: 3, clickedDecisions: 2 });
  });

  it("ignores events outside rollout sessions and without a session id; a new arm starts a new session", () => {
    const t = new ArmTracker(limits);
    t.onEvent(ev("purchase", "u", "s", 1, { value: 10 }));
    t.onEvent(ev("purchase", "u", undefined, 1, { value: 10 }));
    expect(t.counters.incumbent.purchases + t.counters.candidate.purchases).toBe(0);
    t.onDecision({ rolloutId: "r", arm: "incumbent", userId: "u", sessionId: "s", timestamp: 2 });
    t.onDecision({ rolloutId: "r", arm: "candidate", userId: "u", sessionId: "s", timestamp: 3 });
    t.onEvent(ev("purchase", "u", "s", 4, { value: 10 }));
    expect(t.counters.incumbent).toMatchObject({ sessions: 1, purchases: 0 });
    expect(t.counters.candidate).toMatchObject({ sessions: 1, purchases: 1, revenue: 10, convertedSessions: 1 });
    expect(t.stageUserCounts()).toEqual({ candidate: 1, incumbent: 1 });
    t.startStage();
    expect(t.stageUserCounts()).toEqual({ candidate: 0, incumbent: 0 });
  });

  it("forgets idle sessions and round-trips through a snapshot", () => {
    const t = new ArmTracker({ sessionTtlMs: 100, clickWindowMs: 50 });
    t.onDecision({ rolloutId: "r", arm: "candidate", userId: "u", sessionId: "s", timestamp: 0, decisionId: "d" });
    const copy = new ArmTracker({ sessionTtlMs: 100, clickWindowMs: 50 }, t.snapshot());
    expect(copy.snapshot()).toEqual(t.snapshot());
    t.prune(1000);
    t.onEvent(ev("click", "u", "s", 1001, { decisionId: "d" }));
    expect(t.counters.candidate.clicks).toBe(0);
    copy.onEvent(ev("click", "u", "s", 10, { decisionId: "d" }));
    expect(copy.counters.candidate.clickedDecisions).toBe(1);
    expect(t.counters.candidate.clickedDecisions).toBe(0); // the snapshot was a copy
  });
});
