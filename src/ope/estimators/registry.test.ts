import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EstimatorInput, EstimatorParams } from "../estimator.js";
import { ESTIMATORS, getEstimator } from "./registry.js";

/** One contract suite for every registered estimator (OBP's all-estimators test), plus the spec fixtures. */
interface Fixture {
  rounds: { reward: number[]; action: number[]; pscore: number[]; actionDist: number[][]; qHat: number[][] };
  cases: { estimator: string; params: EstimatorParams; terms: number[]; value: number }[];
}
const spec = (name: string) => JSON.parse(readFileSync(new URL(`../../../spec/ope/${name}`, import.meta.url), "utf8"));
const fixture = spec("estimators.json") as Fixture;

/** Builds the columnar inputs from OBP-style arrays, independently of the pipeline code. */
function columnsFrom(f: Fixture["rounds"]): EstimatorInput {
  const n = f.reward.length;
  const input: EstimatorInput = {
    reward: Float64Array.from(f.reward),
    propensity: Float64Array.from(f.pscore),
    targetProb: new Float64Array(n),
    qLogged: new Float64Array(n),
    qTarget: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const dist = f.actionDist[i] as number[];
    const q = f.qHat[i] as number[];
    const a = f.action[i] as number;
    input.targetProb[i] = dist[a] as number;
    input.qLogged[i] = q[a] as number;
    input.qTarget[i] = dist.reduce((s, p, j) => s + p * (q[j] as number), 0);
  }
  return input;
}

function onPolicyInput(n: number): EstimatorInput {
  const reward = new Float64Array(n);
  const propensity = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    reward[i] = (i * 7) % 3 === 0 ? 1 : 0;
    propensity[i] = 1;
  }
  return { reward, propensity, targetProb: propensity.slice(), qLogged: reward.slice(), qTarget: reward.slice() };
}

describe("estimator fixtures (spec/ope/estimators.json, computed by OBP's formulas)", () => {
  const input = columnsFrom(fixture.rounds);
  for (const c of fixture.cases) {
    it(`${c.estimator} ${JSON.stringify(c.params)}`, () => {
      const terms = getEstimator(c.estimator).terms(input, c.params);
      expect(terms.length).toBe(c.terms.length);
      for (const [i, t] of c.terms.entries()) expect(terms[i]).toBeCloseTo(t, 12);
      const mean = terms.reduce((s, v) => s + v, 0) / terms.length;
      expect(mean).toBeCloseTo(c.value, 12);
    });
  }
  it("covers every deterministic-or-stochastic estimator except replay, which has its own fixture", () => {
    const covered = new Set(fixture.cases.map((c) => c.estimator));
    expect([...Object.keys(ESTIMATORS)].filter((n) => !covered.has(n))).toEqual(["replay"]);
  });
});

describe("replay fixture (spec/ope/replay.json)", () => {
  const f = spec("replay.json") as {
    rounds: { reward: number[]; pscore: number[]; targetProb: number[] };
    terms: number[];
    value: number;
  };
  const n = f.rounds.reward.length;
  const input: EstimatorInput = {
    reward: Float64Array.from(f.rounds.reward),
    propensity: Float64Array.from(f.rounds.pscore),
    targetProb: Float64Array.from(f.rounds.targetProb),
    qLogged: new Float64Array(n),
    qTarget: new Float64Array(n),
  };
  it("averages the rewards of the matching rounds", () => {
    const terms = getEstimator("replay").terms(input, {});
    for (const [i, t] of f.terms.entries()) expect(terms[i]).toBeCloseTo(t, 12);
    expect(terms.reduce((s, v) => s + v, 0) / n).toBeCloseTo(f.value, 12);
  });
  it("refuses a stochastic target", () => {
    const stochastic = { ...input, targetProb: Float64Array.from([0.5, 1, 0, 0, 1, 0]) };
    expect(() => getEstimator("replay").terms(stochastic, {})).toThrow(/deterministic/);
  });
});

describe.each(Object.values(ESTIMATORS))("contract: $name", (estimator) => {
  const input = columnsFrom(fixture.rounds);
  const deterministic = {
    ...input,
    targetProb: Float64Array.from(fixture.rounds.action.map((a) => (a === 1 ? 1 : 0))),
  };
  const usable = estimator.name === "replay" ? deterministic : input;

  it("returns one finite term per round and leaves its inputs untouched", () => {
    const before = JSON.stringify(Object.values(usable).map((a) => Array.from(a as Float64Array)));
    const terms = estimator.terms(usable, { clip: 10, switchLambda: 10 });
    expect(terms).toBeInstanceOf(Float64Array);
    expect(terms.length).toBe(usable.reward.length);
    for (const t of terms) expect(Number.isFinite(t)).toBe(true);
    expect(JSON.stringify(Object.values(usable).map((a) => Array.from(a as Float64Array)))).toBe(before);
  });

  it("is deterministic", () => {
    expect(Array.from(estimator.terms(usable, {}))).toEqual(Array.from(estimator.terms(usable, {})));
  });

  it("gives the mean reward when the target is the logging policy and q̂ is exact", () => {
    const on = onPolicyInput(30);
    const terms = estimator.terms(on, {});
    const value = terms.reduce((s, v) => s + v, 0) / terms.length;
    const mean = on.reward.reduce((s, v) => s + v, 0) / on.reward.length;
    expect(value).toBeCloseTo(mean, 12);
  });

  it("has a registry name and label", () => {
    expect(getEstimator(estimator.name)).toBe(estimator);
    expect(estimator.label.length).toBeGreaterThan(0);
  });

  it.skipIf(!estimator.needsRewardModel)("refuses when Σ π_e q̂ is unknown (NaN)", () => {
    const unknown = { ...input, qTarget: new Float64Array(input.reward.length).fill(Number.NaN) };
    expect(() => estimator.terms(unknown, {})).toThrow(/distribution/);
  });
});

describe("registry", () => {
  it("names the available estimators for an unknown name", () => {
    expect(() => getEstimator("nope")).toThrow(/available: ips, snips/);
  });
});
