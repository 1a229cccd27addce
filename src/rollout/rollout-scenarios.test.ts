import { describe, expect, it } from "vitest";
import { HOUR, MINUTE } from "../core/clock.js";
import { buildRolloutConfig } from "./rollout-config.js";
import type { ArmProfile, CounterScenario, ScenarioResult } from "./traffic-sim.js";
import { runCounterScenario } from "./traffic-sim.js";

/**
 * Whole rollouts at a realistic volume, simulated at counter level (cheap): 150k decisions/hour (~42/s),
 * 3 decisions per session, 500 new users per 10 minutes, default plan (1/10/50/100 %, 24 h holds,
 * guardrails 2/2/3 % tolerated drops, 5 % false-alarm rate), looked at every 10 minutes (20 for the
 * 200-run false-alarm test).
 */
const incumbent: ArmProfile = { ctr: 0.05, conversion: 0.03, values: [20, 50, 100] };
const STEP = 10 * MINUTE;

function scenario(seed: number, candidate: ArmProfile, extra: Partial<CounterScenario> = {}): ScenarioResult {
  return runCounterScenario({
    seed: String(seed),
    config: buildRolloutConfig({ opeGate: false }),
    candidate,
    incumbent,
    sessionsPerStep: 8330,
    decisionsPerSession: 3,
    newUsersPerStep: 5000,
    stepMs: STEP,
    maxSteps: (6 * 24 * HOUR) / STEP,
    ...extra,
  });
}

function runs(n: number, candidate: ArmProfile, extra?: Partial<CounterScenario>): ScenarioResult[] {
  return Array.from({ length: n }, (_, i) => scenario(i, candidate, extra));
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? Number.NaN;

describe("rollout scenarios (counter-level simulation, many seeds)", () => {
  it("an equal candidate is rolled back no more often than the configured false-alarm rate", () => {
    // Looks every 20 minutes here to stay fast; `npm run bench -- rollout` repeats it with a look every minute.
    const results = runs(200, incumbent, { stepMs: 2 * STEP, sessionsPerStep: 2 * 8330, newUsersPerStep: 10000 });
    const alarms = results.filter((r) => r.status !== "completed");
    const rate = alarms.length / results.length;
    console.log(`[rollout] equal candidate: ${alarms.length}/200 false alarms (rate ${rate}), configured 0.05`);
    expect(rate).toBeLessThanOrEqual(0.05);
    expect(results.filter((r) => r.status === "halted")).toHaveLength(0);
  });

  it("a candidate 10 % worse on CTR is rolled back during the 1 % or 10 % stage", () => {
    const results = runs(100, { ...incumbent, ctr: incumbent.ctr * 0.9 });
    const rolledBack = results.filter((r) => r.status === "rolled_back");
    const hours = rolledBack.map((r) => r.elapsedMs / HOUR);
    const at1 = rolledBack.filter((r) => r.endStage === 1).length;
    console.log(
      `[rollout] 10 % worse CTR: ${rolledBack.length}/100 rolled back (${at1} in the 1 % stage, ` +
        `${rolledBack.length - at1} in the 10 % stage); hours to rollback median ${quantile(hours, 0.5).toFixed(1)}, ` +
        `p90 ${quantile(hours, 0.9).toFixed(1)}, max ${Math.max(...hours).toFixed(1)}`,
    );
    expect(rolledBack.length).toBeGreaterThanOrEqual(95);
    for (const r of rolledBack) expect([1, 10]).toContain(r.endStage);
    for (const r of rolledBack) expect(r.timeline.at(-1)?.reasons).toContain("guardrail_regression");
  });

  it("a better candidate is promoted to 100 % after each stage holds", () => {
    const results = runs(50, { ...incumbent, ctr: incumbent.ctr * 1.05 });
    const done = results.filter((r) => r.status === "completed");
    const first = done[0];
    const timeline = first?.timeline.map((e) => `${e.action}->${e.stage}%@${e.atMs / HOUR}h`).join(", ");
    console.log(
      `[rollout] 5 % better CTR: ${done.length}/50 promoted; timeline of seed ${results.indexOf(first as ScenarioResult)}: ${timeline}`,
    );
    expect(done.length).toBeGreaterThanOrEqual(48);
    for (const r of done) {
      expect(r.timeline.map((e) => e.stage)).toEqual([10, 50, 100]);
      for (const [i, e] of r.timeline.entries()) expect(e.atMs).toBeGreaterThanOrEqual((i + 1) * 24 * HOUR);
    }
  });

  it("a broken assignment (the candidate loses a fifth of its users) halts on the SRM check", () => {
    const results = runs(20, incumbent, { assignmentSkew: 0.8 });
    const hours = results.map((r) => r.elapsedMs / HOUR);
    console.log(
      `[rollout] SRM (candidate share 0.8 x planned): ${results.filter((r) => r.status === "halted").length}/20 halted, median ${quantile(hours, 0.5).toFixed(1)} h`,
    );
    for (const r of results) {
      expect(r.status).toBe("halted");
      expect(r.timeline.at(-1)?.reasons).toEqual(["srm"]);
    }
  });
});
