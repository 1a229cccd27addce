import { describe, expect, it } from "vitest";
import { HOUR } from "../core/clock.js";
import { applyDecision, decideGate, decideRollout } from "./decide-rollout.js";
import { estimateMetric, testGuardrail } from "./guardrail-stats.js";
import { buildRolloutConfig } from "./rollout-config.js";
import type { ArmCounters, Rollout, RolloutStats } from "./rollout-types.js";
import { emptyCounters } from "./rollout-types.js";

const config = buildRolloutConfig({ minHoldMs: 24 * HOUR, minSamplePerArm: 1000 });
const rollout = (over: Partial<Rollout> = {}): Rollout => ({
  id: "r",
  candidate: "c",
  incumbent: "i",
  config,
  hashVersion: 1,
  status: "running",
  stageIndex: 1,
  candidateShare: 0.1,
  stageStartedAt: 0,
  createdAt: 0,
  updatedAt: 0,
  ...over,
});

/** Counters of `sessions` sessions with 2 decisions each, `ctr` clicked, `conv` converting at value 50. */
function arm(sessions: number, ctr: number, conv = 0.05): ArmCounters {
  const c = emptyCounters();
  const clicked = Math.round(sessions * 2 * ctr);
  // clicked decisions spread one per session where possible (sessions with 1 click)
  const converted = Math.round(sessions * conv);
  Object.assign(c, {
    sessions,
    decisions: sessions * 2,
    sumDecisionsSq: sessions * 4,
    clickedDecisions: clicked,
    clicks: clicked,
    sumClickedSq: clicked,
    sumClickedDecisions: clicked * 2,
    convertedSessions: converted,
    purchases: converted,
    revenue: converted * 50,
    sumRevenueSq: converted * 2500,
  });
  return c;
}
const stats = (cand: ArmCounters, inc: ArmCounters, users = { candidate: 1000, incumbent: 9000 }): RolloutStats => ({
  arms: { candidate: cand, incumbent: inc },
  stageUsers: users,
});

describe("guardrail statistics", () => {
  it("estimates CTR as a ratio of session sums with the delta-method variance", () => {
    const e = estimateMetric(arm(1000, 0.2), "ctr");
    expect(e?.mean).toBeCloseTo(0.2, 10);
    // each session: 2 decisions, 0 or 1 clicked: var(c) = 0.4*0.6, var(d) = 0, so Var = 0.24 / (1000 * 4)
    expect(e?.variance).toBeCloseTo((0.4 * 0.6 * (1000 / 999)) / 4000, 8);
  });

  it("flags a regression only beyond the tolerated drop, ok when non-inferiority is shown", () => {
    const worse = testGuardrail("ctr", arm(20000, 0.18), arm(200000, 0.2), config);
    expect(worse.verdict).toBe("regression");
    expect(worse.lift).toBeCloseTo(-0.1, 6);
    expect(testGuardrail("ctr", arm(200000, 0.2), arm(2000000, 0.2), config).verdict).toBe("ok");
    expect(testGuardrail("ctr", arm(300, 0.15), arm(3000, 0.2), config).verdict).toBe("inconclusive");
    expect(testGuardrail("ctr", arm(50, 0), arm(3000, 0.2), config).verdict).toBe("insufficient");
    const off = buildRolloutConfig({ guardrails: { ctr: { enabled: false } } });
    expect(testGuardrail("ctr", arm(20000, 0.1), arm(200000, 0.2), off).verdict).toBe("disabled");
  });
});

describe("decideRollout", () => {
  it("holds until the stage has held long enough with enough samples, then advances", () => {
    const s = stats(arm(5000, 0.2), arm(45000, 0.2));
    const early = decideRollout(rollout(), s, 2 * HOUR);
    expect(early.action).toBe("hold");
    expect(early.reasons.map((r) => r.code)).toContain("min_hold");
    const small = decideRollout(rollout(), stats(arm(200, 0.2), arm(1800, 0.2)), 30 * HOUR);
    expect(small.reasons.find((r) => r.code === "min_sample")).toMatchObject({ sample: 400, min: 1000 });
    const ready = decideRollout(rollout(), s, 24 * HOUR);
    expect(ready.action).toBe("advance");
    const next = applyDecision(rollout(), ready, 24 * HOUR);
    expect(next).toMatchObject({ stageIndex: 2, candidateShare: 0.5, stageStartedAt: 24 * HOUR, status: "running" });
  });

  it("completes when the next stage is 100 %", () => {
    const d = decideRollout(
      rollout({ stageIndex: 2, candidateShare: 0.5 }),
      stats(arm(25000, 0.2), arm(25000, 0.2), { candidate: 5000, incumbent: 5000 }),
      25 * HOUR,
    );
    expect(d.action).toBe("complete");
    expect(applyDecision(rollout(), d, 1)).toMatchObject({ status: "completed", candidateShare: 1, stageIndex: 3 });
  });

  it("rolls back on a regression (share 0 at once), even while paused", () => {
    const s = stats(arm(20000, 0.17), arm(180000, 0.2));
    for (const status of ["running", "paused"] as const) {
      const d = decideRollout(rollout({ status }), s, HOUR);
      expect(d.action).toBe("rollback");
      expect(d.reasons[0]).toMatchObject({ code: "guardrail_regression", metric: "ctr" });
      expect(applyDecision(rollout(), d, HOUR)).toMatchObject({ status: "rolled_back", candidateShare: 0 });
    }
    const paused = decideRollout(rollout({ status: "paused" }), stats(arm(5000, 0.2), arm(45000, 0.2)), 48 * HOUR);
    expect(paused.action).toBe("hold");
    expect(paused.reasons[0]?.code).toBe("paused");
  });

  it("halts on a sample-ratio mismatch before looking at guardrails", () => {
    const d = decideRollout(
      rollout(),
      stats(arm(5000, 0.2), arm(45000, 0.2), { candidate: 700, incumbent: 9300 }),
      HOUR,
    );
    expect(d.action).toBe("halt");
    expect(d.reasons[0]).toMatchObject({ code: "srm", plannedShare: 0.1 });
    expect(applyDecision(rollout(), d, HOUR)).toMatchObject({ status: "halted", candidateShare: 0 });
    expect(decideRollout(rollout({ status: "halted" }), stats(arm(1, 0), arm(1, 0)), HOUR).action).toBe("hold");
  });

  it("halts on the anytime-valid SRM p-value by default, on the chi-square one when configured", () => {
    // 890 of 10 000 users at a planned 10 %: chi-square p = 2.5e-4, anytime-valid p = 8.5e-3.
    const s = stats(arm(5000, 0.2), arm(45000, 0.2), { candidate: 890, incumbent: 9110 });
    expect(decideRollout(rollout(), s, HOUR).action).toBe("hold");
    const chi = buildRolloutConfig({ srmTest: "chi-square", minHoldMs: 24 * HOUR, minSamplePerArm: 1000 });
    const d = decideRollout(rollout({ config: chi }), s, HOUR);
    expect(d.action).toBe("halt");
    expect(Number(d.reasons[0]?.pValue)).toBeCloseTo(2.457e-4, 6);
  });

  it("gates the first stage on the OPE estimate", () => {
    const inc = { value: 0.3, ci: [0.29, 0.31] as [number, number] };
    expect(decideGate({ candidate: { value: 0.3, ci: [0.29, 0.31] }, incumbent: inc, n: 1 }, config).action).toBe(
      "advance",
    );
    expect(decideGate({ candidate: { value: 0.2, ci: [0.19, 0.21] }, incumbent: inc, n: 1 }, config).action).toBe(
      "rollback",
    );
    // Precise enough to judge (±0.012 < 2 × 0.015) but not shown non-inferior: rollback.
    expect(decideGate({ candidate: { value: 0.285, ci: [0.275, 0.295] }, incumbent: inc, n: 1 }, config).action).toBe(
      "rollback",
    );
    // Far too uncertain to say (±0.08 on the difference): the logs do not suffice, the first stage decides.
    const vague = decideGate({ candidate: { value: 0.295, ci: [0.2, 0.39] }, incumbent: inc, n: 1 }, config);
    expect(vague.action).toBe("advance");
    expect(vague.reasons[0]?.code).toBe("ope_gate_inconclusive");
    // Harm shown even through a wide interval: rollback.
    expect(decideGate({ candidate: { value: 0.1, ci: [0.0, 0.2] }, incumbent: inc, n: 1 }, config).action).toBe(
      "rollback",
    );
    expect(decideGate(null, config).reasons[0]?.code).toBe("ope_gate_skipped");
    expect(decideGate(undefined, config).action).toBe("hold");
    expect(decideGate(undefined, buildRolloutConfig({ opeGate: false })).action).toBe("advance");
    const d = decideRollout(
      rollout({ stageIndex: -1, candidateShare: 0 }),
      { ...stats(emptyCounters(), emptyCounters()), opeGate: null },
      0,
    );
    expect(applyDecision(rollout({ stageIndex: -1, candidateShare: 0 }), d, 5)).toMatchObject({
      stageIndex: 0,
      candidateShare: 0.01,
    });
  });
});
