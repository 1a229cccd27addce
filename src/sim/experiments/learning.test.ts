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

  // Issue 8's criterion, on the product as shipped: the engine (feature store, recommender, reward join,
  // learning) serving its own default policy over a month of the default shop (6,000 sessions, ~1 min per
  // seed). Seeded and repeatable. Two scenario seeds: one Thompson trajectory moves a seed's figure by about
  // ±5 points, and seed 42 alone sits near the line (49.8%; 73.4% on seed 7, 71.2% on seed 11).
  it("the default policy through the engine closes most of the popularity → oracle gap", {
    timeout: 600_000,
  }, async () => {
    const gaps: number[] = [];
    for (const seed of [42, 7]) {
      const r = await learningExperiment({ sessions: 6000, seed, via: "engine" });
      expect(r.errors).toBe(0);
      expect(r.policy.id).toBe("default");
      expect(r.final.policy).toBeGreaterThan(r.final.popularity);
      expect(r.curve.at(-1)!.policy).toBeGreaterThan(r.curve[0]!.policy);
      expect(r.final.gapClosed).toBeGreaterThan(0.4);
      gaps.push(r.final.gapClosed);
    }
    expect((gaps[0]! + gaps[1]!) / 2).toBeGreaterThan(0.5);
  });
});
