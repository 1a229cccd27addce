import { describe, expect, it } from "vitest";
import { DAY, type ManualClock } from "../../core/clock.js";
import { bucketOf } from "../../core/hash.js";
import { rngFor } from "../../core/rng.js";
import type { RankResponse } from "../../server/api-types.js";
import type { SimTarget } from "../target.js";
import type { ScenarioInput } from "../world/scenario.js";
import { rolloutExperiment } from "./rollout.js";

/**
 * A stand-in engine with a rollout: 50% of users (sticky) get the candidate; `baseline` shows the first
 * candidate, `uniform` either of the two. Stage and status come from the clock.
 */
function fakeRolloutEngine(clock: ManualClock): Promise<SimTarget> {
  const types = new Map<string, string>();
  const t0 = clock.now();
  const target: SimTarget = {
    kind: "fake",
    upsertItems: async (b) => ({ accepted: b.items.length, rejected: 0, results: [] }),
    ingestEvents: async (b) => ({
      accepted: b.events.length,
      duplicates: 0,
      rejected: 0,
      rewardsJoined: 0,
      results: [],
    }),
    registerPolicy: async (b) => {
      types.set(b.id ?? "", b.type);
      return { id: b.id ?? "" };
    },
    startRollout: async () => ({ id: "ro", status: "running", stage: 50, candidateShare: 0.5 }),
    getRollout: async (id) => ({ id, status: clock.now() - t0 > DAY ? "completed" : "running", stage: 50 }),
    rank: async (b): Promise<RankResponse> => {
      const arm = bucketOf("fake-rollout", b.userId) < 0.5 ? "candidate" : "incumbent";
      const policyId = arm === "candidate" ? "sim-candidate" : "sim-incumbent";
      const candidates = b.candidates ?? [];
      const pick =
        types.get(policyId) === "uniform" ? Math.floor(rngFor("x", b.decisionId ?? "").next() * candidates.length) : 0;
      return {
        decisionId: b.decisionId ?? "d",
        policy: { id: policyId, type: types.get(policyId) ?? "?", version: 1 },
        ranking: [{ id: candidates[pick]!.id, position: 0, probability: 1 }],
        candidateSource: "request",
        fallbacks: [],
        activated: true,
        rollout: { id: "ro", stage: 2, arm },
      };
    },
    reward: async (decisionId) => ({ decisionId, rewardId: "r", status: "accepted" }),
    close: async () => undefined,
  };
  return Promise.resolve(target);
}

describe("rollout experiment", () => {
  const overrides = { users: { count: 2000 }, sessions: { perDay: 4000 } };

  it("builds a candidate 10% worse on true CTR for rollout-bad", async () => {
    const r = await rolloutExperiment({ scenario: "rollout-bad", days: 1, overrides, openTarget: fakeRolloutEngine });
    expect(r.rolloutStarted).toBe(true);
    expect(r.targetRatio).toBe(0.9);
    expect(r.arms.candidate!.decisions).toBeGreaterThan(1000);
    expect(r.trueCtrRatio!).toBeGreaterThan(0.87);
    expect(r.trueCtrRatio!).toBeLessThan(0.93);
    expect(r.finalStatus).toBe("running");
  });

  it("ends the run at the first poll that finds the rollout final, unless asked to run every day", async () => {
    const small = { users: { count: 500 }, sessions: { perDay: 500 } };
    const run = (runToEnd: boolean) =>
      rolloutExperiment({
        scenario: "rollout-good",
        days: 3,
        overrides: small,
        openTarget: fakeRolloutEngine,
        runToEnd,
      });
    const stopped = await run(false);
    // The fake completes once more than a day passed; the hourly poll sees it at 25 h.
    expect(stopped.finalStatus).toBe("completed");
    expect(stopped.simulatedDays).toBeCloseTo(25 / 24, 3);
    const full = await run(true);
    expect(full.finalStatus).toBe("completed");
    expect(full.simulatedDays).toBe(3);
    expect(full.report.sessions).toBeGreaterThan(2 * stopped.report.sessions);
  });

  // The realized ratio also carries which users each arm happened to get (a few percent at this size).
  it("makes the equal candidate as good and the good one 10% better", async () => {
    const run = (scenario: string) =>
      rolloutExperiment({ scenario, days: 1, overrides, openTarget: fakeRolloutEngine });
    const equal = await run("rollout-equal");
    expect(equal.trueCtrRatio!).toBeGreaterThan(0.93);
    expect(equal.trueCtrRatio!).toBeLessThan(1.07);
    const good = await run("rollout-good");
    expect(good.trueCtrRatio!).toBeGreaterThan(1.04);
    expect(good.trueCtrRatio!).toBeLessThan(1.16);
    expect(good.trueCtrRatio!).toBeGreaterThan(equal.trueCtrRatio!);
  });
});

/**
 * The built-in rollout scenarios on the real engine, shrunk to a few thousand sessions: a short plan and a
 * much larger true CTR gap (0.3× and 1.5×) than the eval's 0.9× and 1.1×, which need a week of a large shop
 * (`npm run eval -- rollout-scenarios`). The same wiring decides: the controller's guardrail on the engine's
 * own counts rolls the worse candidate back once it served at a stage; the better one passes every stage.
 */
describe("rollout scenarios on the real engine (tiny world)", () => {
  const plan = { stages: [20, 50, 100], minHold: "30m", minSamplePerArm: 100 };
  // The run ends at the first status read that finds the rollout final: read every 10 simulated minutes.
  const poll = { rolloutPollMs: 10 * 60_000 };
  // Merged over the scenario's own rollout section (incumbent and candidate stay).
  const tiny = (ctrRatio: number): ScenarioInput => ({
    users: { count: 2000 },
    sessions: { perDay: 20_000 },
    rollout: { ctrRatio } as ScenarioInput["rollout"],
  });

  it("rolls rollout-bad back by a guardrail regression after the candidate served", async () => {
    const r = await rolloutExperiment({ scenario: "rollout-bad", days: 1, plan, overrides: tiny(0.3), ...poll });
    expect(r.finalStatus).toBe("rolled_back");
    expect(r.lastTransition?.action).toBe("rollback");
    expect(r.lastTransition?.reasons).toContain("guardrail_regression");
    expect(r.lastTransition?.fromStage).toBeGreaterThan(0);
    expect(r.arms.candidate!.decisions).toBeGreaterThan(0);
    expect(r.trueCtrRatio!).toBeLessThan(0.75);
  });

  it("promotes rollout-good through every stage", async () => {
    const r = await rolloutExperiment({ scenario: "rollout-good", days: 1, plan, overrides: tiny(1.5), ...poll });
    expect(r.finalStatus).toBe("completed");
    expect(r.transitions.map((t) => [t.action, t.toStage])).toEqual([
      ["advance", 20],
      ["advance", 50],
      ["complete", 100],
    ]);
    expect(r.lastTransition?.reasons).toContain("stage_held");
    expect(r.trueCtrRatio!).toBeGreaterThan(1.1);
  });
});
