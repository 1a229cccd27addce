import { describe, expect, it } from "vitest";
import { rngFor, Xoshiro128 } from "../core/rng.js";
import type { BasePolicy } from "./base-policy.js";
import type { PolicyInput, PolicySpec } from "./policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, policyTypes, restorePolicy } from "./policy-types.js";

/** One contract for every registered policy type (DESIGN.md: a registry and one contract test per family). */

function makeInput(rng: Xoshiro128, n: number, ctxId: number): PolicyInput {
  return {
    context: { age: 1 + (ctxId % 5), device: ctxId % 2 === 0 ? "mobile" : "desktop", loyal: ctxId % 3 === 0 },
    candidates: Array.from({ length: n }, (_, c) => ({
      id: `item${c}`,
      features: { price: 1 + c, category: `cat${c % 3}` },
      score: Math.round(rng.next() * 100) / 100,
    })),
  };
}

/** Every registered type with defaults, plus the disjoint model variants. */
const cases: [string, PolicySpec][] = [
  ...Object.keys(policyTypes).map((type): [string, PolicySpec] => [type, { type, features: { dims: 1024 } }]),
  ...["thompson", "thompson-logistic", "linucb", "squarecb"].map((type): [string, PolicySpec] => [
    `${type} (disjoint)`,
    { type, params: { model: "disjoint", armDims: 16 }, features: {} },
  ]),
  ...["thompson", "linucb", "greedy"].map((type): [string, PolicySpec] => [
    `${type} (hybrid, symlog)`,
    { type, params: { model: "hybrid", armDims: 16 }, features: { dims: 1024, id: false, numeric: "symlog" } },
  ]),
  ["the product default", DEFAULT_POLICY_SPEC],
];

/** A policy of `spec` trained on the same 63 seeded rewards. */
function trained(spec: PolicySpec): BasePolicy {
  const policy = createPolicy("p1", spec);
  const rng = new Xoshiro128(7);
  // 63: not a multiple of the default refreshEvery (10), so learner and serving posteriors differ.
  for (let t = 0; t < 63; t++) {
    const input = makeInput(rng, 6, t % 4);
    const [choice] = policy.rank(input, 1, rngFor("explore", `train-${t}`));
    const reward = choice!.index % 3 === t % 3 ? 1 : 0;
    policy.update({
      input,
      index: choice!.index,
      position: 0,
      reward,
      propensity: choice!.propensity,
      placedBefore: [],
    });
  }
  return policy;
}

function sum(p: Float64Array): number {
  return p.reduce((a, b) => a + b, 0);
}

/** Chi-square statistic of observed counts against expected probabilities (cells with p > 0). */
function chiSquare(counts: number[], p: Float64Array, total: number): { stat: number; df: number } {
  let stat = 0;
  let df = -1;
  p.forEach((pi, i) => {
    if (pi <= 0) {
      expect(counts[i]).toBe(0);
      return;
    }
    const e = pi * total;
    stat += ((counts[i]! - e) * (counts[i]! - e)) / e;
    df++;
  });
  return { stat, df };
}

/** Upper 0.1% quantile of chi-square by the Wilson–Hilferty approximation (z = 3.09). */
function chiCritical(df: number): number {
  if (df <= 0) return 0;
  const a = 2 / (9 * df);
  return df * (1 - a + 3.09 * Math.sqrt(a)) ** 3;
}

describe.each(cases)("policy contract: %s", (_label, spec) => {
  const type = spec.type;
  const input = makeInput(new Xoshiro128(99), 6, 1);

  it("gives a distribution over all candidates that sums to 1, 0 for placed ones", () => {
    const policy = trained(spec);
    const p0 = policy.distribution(input);
    expect(p0).toHaveLength(6);
    expect(sum(p0)).toBeCloseTo(1, 12);
    const p2 = policy.distribution(input, [2, 0]);
    expect(sum(p2)).toBeCloseTo(1, 12);
    expect(p2[2]).toBe(0);
    expect(p2[0]).toBe(0);
    for (const v of p2) expect(v).toBeGreaterThanOrEqual(0);
  });

  it.runIf(policyTypes[type]!.explores)("keeps every unplaced candidate's probability > 0", () => {
    const policy = trained(spec);
    for (const v of policy.distribution(input)) expect(v).toBeGreaterThan(0);
    const p = policy.distribution(input, [1]);
    p.forEach((v, i) => {
      if (i === 1) expect(v).toBe(0);
      else expect(v).toBeGreaterThan(0);
    });
  });

  it("replays a decision exactly from the same state and seed", () => {
    const a = trained(spec).rank(input, 4, rngFor("explore", "dec-1"));
    const b = trained(spec).rank(input, 4, rngFor("explore", "dec-1"));
    expect(b.map((s) => [s.index, s.propensity])).toEqual(a.map((s) => [s.index, s.propensity]));
    expect(new Set(a.map((s) => s.index)).size).toBe(4);
    a.forEach((s, k) => {
      expect(s.position).toBe(k);
      expect(s.propensity).toBe(s.probabilities[s.index]);
    });
  });

  it("hands out each slot's distribution as its own array: distribution(input, placed before), kept by later ranks", () => {
    const policy = trained(spec);
    const slots = policy.rank(input, 4, rngFor("explore", "dec-2"));
    const copies = slots.map((s) => Array.from(s.probabilities));
    slots.forEach((s, k) => {
      const placedBefore = slots.slice(0, k).map((x) => x.index);
      expect(copies[k]).toEqual(Array.from(policy.distribution(input, placedBefore)));
      expect(s.probabilities).toHaveLength(6);
    });
    // The decision log keeps these arrays: ranks after this one must not write into them.
    policy.rank(input, 4, rngFor("explore", "dec-3"));
    policy.rank(makeInput(new Xoshiro128(5), 6, 1), 6, rngFor("explore", "dec-4"));
    expect(slots.map((s) => Array.from(s.probabilities))).toEqual(copies);
  });

  it("restores from a JSON snapshot to the same distributions and progress", () => {
    const policy = trained(spec);
    const restored = restorePolicy(JSON.parse(JSON.stringify(policy.snapshot())));
    expect(restored.type).toBe(type);
    expect(restored.version).toBe(policy.version);
    expect(Array.from(restored.distribution(input))).toEqual(Array.from(policy.distribution(input)));
    expect(Array.from(restored.distribution(input, [3]))).toEqual(Array.from(policy.distribution(input, [3])));
    expect(restored.describe().progress).toEqual(policy.describe().progress);
    const seeded = (p: BasePolicy) => p.rank(input, 3, rngFor("explore", "r")).map((s) => s.index);
    expect(seeded(restored)).toEqual(seeded(policy));
  });

  it("serves choices with the frequencies of the logged propensities (chi-square, fixed seeds)", () => {
    const policy = trained(spec);
    const draws = 4000;
    const first = new Array(6).fill(0);
    const second = new Array(6).fill(0);
    let logged0: Float64Array | undefined;
    for (let i = 0; i < draws; i++) {
      const [s0, s1] = policy.rank(input, 2, rngFor("explore", `chi-${i}`));
      logged0 ??= s0!.probabilities;
      expect(Array.from(s0!.probabilities)).toEqual(Array.from(logged0));
      first[s0!.index]++;
      if (s0!.index === 0) second[s1!.index]++;
    }
    const c0 = chiSquare(first, policy.distribution(input), draws);
    expect(c0.stat).toBeLessThanOrEqual(chiCritical(c0.df));
    // Slot 1 conditional on slot 0 = candidate 0 (it always has support: baseline and uniform floor).
    const n1 = second.reduce((a, b) => a + b, 0);
    if (n1 >= 200) {
      const c1 = chiSquare(second, policy.distribution(input, [0]), n1);
      expect(c1.stat).toBeLessThanOrEqual(chiCritical(c1.df));
    }
  });

  it("rejects unknown parameters with a field path", () => {
    expect(() => createPolicy("x", { type, params: { nope: 1 } })).toThrow(/params/);
  });
});
