import { describe, expect, it } from "vitest";
import type { Policy } from "../bandit/policy.js";
import { evaluateLog, targetColumns } from "./evaluate-log.js";
import type { LoggedRound, LoggedRounds } from "./logged-round.js";
import { getRewardModel } from "./reward-models/registry.js";
import {
  formatProbabilityCsv,
  loggingTarget,
  matrixTarget,
  parseProbabilityCsv,
  policyTarget,
  uniformTarget,
} from "./targets.js";

const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];
const round = (extra: Partial<LoggedRound>): LoggedRound => ({
  context: { x: 1 },
  candidates,
  position: 0,
  action: 0,
  propensity: 0.5,
  probabilities: [0.5, 0.5, 0],
  placedBefore: [],
  reward: 1,
  ...extra,
});

/** A two-slot decision and a one-slot one. */
const rounds: LoggedRound[] = [
  round({ action: 0, propensity: 0.5, reward: 1 }),
  round({ position: 1, action: 2, propensity: 0.25, probabilities: [0, 0.75, 0.25], placedBefore: [0], reward: 0 }),
  round({ action: 1, propensity: 0.5, reward: 1 }),
];
const log: LoggedRounds = { source: "test", rounds, skipped: { pending: 2 }, notes: ["n"] };

/** A port-conforming policy that prefers "c", then "b": enough to check placedBefore is honoured. */
const preferC: Policy = {
  id: "prefer-c",
  type: "test",
  version: 1,
  distribution(input, placed = []) {
    const order = ["c", "b", "a"];
    const free = order.find((id) => !placed.includes(input.candidates.findIndex((c) => c.id === id)));
    return Float64Array.from(input.candidates, (c) => (c.id === free ? 1 : 0));
  },
  rank: () => [],
  update: () => {},
  describe: () => ({}),
  snapshot: () => ({}),
};

describe("targetColumns", () => {
  it("uniform puts 1/(free candidates) on each free one (CCB semantics)", () => {
    const { input, deficient, known } = targetColumns(rounds, uniformTarget(), undefined);
    expect(Array.from(input.targetProb)).toEqual([1 / 3, 0.5, 1 / 3]);
    // Round 0 and 2: the logger gives "c" probability 0 but uniform does not: support deficiency.
    // Round 1: "a" was placed, uniform is 1/2 on b and c, both loggable.
    expect(deficient).toBe(2);
    expect(known).toBe(3);
  });

  it("asks a policy with the same context, candidates and placed slots", () => {
    const { input } = targetColumns(rounds, policyTarget("prefer-c", preferC), undefined);
    expect(Array.from(input.targetProb)).toEqual([0, 1, 0]);
  });

  it("the logging target reproduces the logged propensities (w = 1)", () => {
    const { input } = targetColumns(rounds, loggingTarget(), undefined);
    expect(Array.from(input.targetProb)).toEqual(Array.from(input.propensity));
  });

  it("q̂ columns: logged action and Σ π_e q̂ with the tabular model", () => {
    const fitted = getRewardModel("tabular").fit(rounds, {});
    const { input } = targetColumns(rounds, uniformTarget(), fitted);
    // Cells: (a,0)=1, (b,0)=1, (c,1)=0; global mean 2/3 for the rest.
    expect(Array.from(input.qLogged)).toEqual([1, 0, 1]);
    expect(input.qTarget[0]).toBeCloseTo((1 + 1 + 2 / 3) / 3, 12);
    expect(input.qTarget[1]).toBeCloseTo((2 / 3 + 0) / 2, 12);
  });

  it("a file target reads row i for round i, and round-trips through CSV", () => {
    const csv = "p_0,p_1,p_2\n0.2,0.3,0.5\n0,0,1\n1,0,0\n";
    const matrix = parseProbabilityCsv(csv);
    expect(formatProbabilityCsv(matrix)).toBe(csv);
    const { input } = targetColumns(rounds, matrixTarget("f", matrix), undefined);
    expect(Array.from(input.targetProb)).toEqual([0.2, 1, 0]);
  });

  it("rejects malformed probability files with the row named", () => {
    expect(() => parseProbabilityCsv("p_0,q_1\n0.5,0.5")).toThrow(/column 1/);
    expect(() => parseProbabilityCsv("p_0,p_1\n0.5,0.6")).toThrow(/row 1 sums to/);
    expect(() => parseProbabilityCsv("p_0,p_1\n0.5")).toThrow(/row 1 has 1 values/);
    const short = matrixTarget("f", parseProbabilityCsv("p_0,p_1,p_2\n1,0,0\n"));
    expect(() => targetColumns(rounds, short, undefined)).toThrow(/has 1 rows/);
  });
});

describe("evaluateLog", () => {
  it("evaluates every target with every estimator and reports diagnostics", async () => {
    const progress: number[] = [];
    const result = await evaluateLog(log, [loggingTarget(), uniformTarget(), policyTarget("prefer-c", preferC)], {
      estimators: ["ips", "snips", "dr", "replay"],
      rewardModel: "tabular",
      bootstrap: 50,
      seed: 3,
      onProgress: (f) => {
        progress.push(f);
      },
    });
    expect(result.n).toBe(3);
    expect(result.skipped).toEqual({ pending: 2 });
    expect(result.onPolicy.value).toBeCloseTo(2 / 3, 12);
    expect(result.targets.map((t) => t.target)).toEqual(["logging", "uniform", "prefer-c"]);
    const logging = result.targets[0];
    expect(logging?.estimates.find((e) => e.estimator === "ips")?.value).toBeCloseTo(2 / 3, 12);
    expect(logging?.diagnostics.meanWeight).toBeCloseTo(1, 12);
    const uniform = result.targets[1];
    expect(uniform?.diagnostics.supportDeficiency).toBeCloseTo(2 / 3, 12);
    expect(uniform?.diagnostics.warnings.join(" ")).toMatch(/never could/);
    expect(uniform?.estimates.find((e) => e.estimator === "replay")?.error).toMatch(/deterministic/);
    const preferCResult = result.targets[2];
    // prefer-c matches the log only on round 1 (w = 4, reward 0).
    expect(preferCResult?.estimates.find((e) => e.estimator === "ips")?.value).toBe(0);
    expect(preferCResult?.estimates.find((e) => e.estimator === "replay")?.value).toBe(0);
    expect(preferCResult?.diagnostics.maxWeight).toBe(4);
    expect(preferCResult?.estimates[0]?.bootstrapCi).toHaveLength(2);
    expect(progress[progress.length - 1]).toBe(1);
    expect(uniform?.weights.counts.reduce((s, c) => s + c, 0)).toBe(3);
  });
});
