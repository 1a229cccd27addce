import { describe, expect, it } from "vitest";
import { learningChart, learningExperiment } from "./learning.js";

describe("learning experiment", () => {
  const options = {
    sessions: 500,
    buckets: 4,
    policy: {
      type: "epsilon-greedy",
      params: { epsilon: 0.1 },
      // Explicit features: this test is about the experiment, not about the bandit's current defaults.
      features: { interactions: true, id: false },
    },
  };

  it("measures a learner against exact oracle, popularity and uniform values on the same requests", async () => {
    const r = await learningExperiment(options);
    expect(r.curve).toHaveLength(4);
    expect(r.errors).toBe(0);
    expect(r.policy.type).toBe("epsilon-greedy");
    for (const p of r.curve) {
      expect(p.oracle).toBeGreaterThan(p.popularity);
      expect(p.oracle).toBeGreaterThanOrEqual(p.contextOracle);
      expect(p.popularity).toBeGreaterThan(p.uniform);
      expect(p.policy).toBeLessThanOrEqual(p.oracle + 1e-12);
    }
    // Learning: the last stretch beats uniform clearly and beats the first stretch.
    expect(r.final.policy).toBeGreaterThan(1.5 * r.final.uniform);
    expect(r.curve[3]!.policy).toBeGreaterThan(r.curve[0]!.policy);
    expect(r.final.gapClosed).toBeCloseTo(
      (r.final.policy - r.final.popularity) / (r.final.oracle - r.final.popularity),
      5,
    );
    const svg = learningChart([r]);
    expect(svg.match(/<polyline class="series"/g)).toHaveLength(5);
  });

  it("is repeatable", async () => {
    const a = await learningExperiment({ ...options, sessions: 200 });
    const b = await learningExperiment({ ...options, sessions: 200 });
    expect(b.curve).toEqual(a.curve);
  });

  // The product as shipped (feature store, recommender, reward join, learning) serving its own default policy,
  // small enough for the unit suite: 800 sessions of seed 7 (~5 s). Measured: 62.7% of the popularity → oracle
  // gap. A policy that stopped learning stays near its prior (close to uniform, far below popularity), so this
  // fails if learning through the engine breaks. Issue 8's full criterion (6,000 sessions, seeds 42 and 7,
  // > 40% each and > 50% on average) is `npm run eval -- learning --engine --seeds=42,7`.
  it("the default policy through the engine learns past popularity within 800 sessions", async () => {
    const r = await learningExperiment({ sessions: 800, seed: 7, via: "engine" });
    expect(r.errors).toBe(0);
    expect(r.policy.id).toBe("default");
    expect(r.final.policy).toBeGreaterThan(r.final.popularity);
    expect(r.curve.at(-1)!.policy).toBeGreaterThan(r.curve[0]!.policy);
    expect(r.final.gapClosed).toBeGreaterThan(0.35);
  });
});
