import { describe, expect, it } from "vitest";
import { sampleIndex, Xoshiro128 } from "../core/rng.js";
import { evaluateLog } from "./evaluate-log.js";
import type { LoggedRound } from "./logged-round.js";
import type { TargetPolicy } from "./targets.js";

/**
 * Unbiasedness on simulated logs with a known true value. 5 contexts, 4 actions, Bernoulli rewards with
 * mean MU[x][a]; a stochastic logger and a different stochastic target. True value
 * V = E_x Σ_a π_e(a|x) MU[x][a]. Many seeded replications: the mean estimate must sit within its standard
 * error band of V (|z| < 3; z printed), and the 95% normal CI must cover V about 95% of the time.
 */
const MU = [
  [0.1, 0.5, 0.2, 0.3],
  [0.6, 0.1, 0.1, 0.2],
  [0.2, 0.2, 0.7, 0.1],
  [0.3, 0.4, 0.1, 0.5],
  [0.05, 0.1, 0.3, 0.8],
];
const LOGGER = [
  [0.4, 0.2, 0.2, 0.2],
  [0.1, 0.3, 0.3, 0.3],
  [0.25, 0.25, 0.25, 0.25],
  [0.5, 0.1, 0.3, 0.1],
  [0.3, 0.3, 0.3, 0.1],
];
const TARGET = [
  [0.1, 0.7, 0.1, 0.1],
  [0.7, 0.1, 0.1, 0.1],
  [0.1, 0.1, 0.7, 0.1],
  [0.1, 0.2, 0.1, 0.6],
  [0.05, 0.05, 0.2, 0.7],
];
const TRUE_VALUE =
  MU.reduce((s, mu, x) => s + mu.reduce((t, m, a) => t + (TARGET[x]?.[a] as number) * m, 0), 0) / MU.length;
const candidates = ["a0", "a1", "a2", "a3"].map((id) => ({ id }));
const target: TargetPolicy = {
  name: "target",
  kind: "policy",
  distribution: (r) => TARGET[r.context.x as number] as number[],
};

function simulate(n: number, rng: Xoshiro128): LoggedRound[] {
  return Array.from({ length: n }, () => {
    const x = Math.floor(rng.next() * MU.length);
    const probabilities = LOGGER[x] as number[];
    const action = sampleIndex(probabilities, rng);
    return {
      context: { x },
      candidates,
      position: 0,
      action,
      propensity: probabilities[action] as number,
      probabilities,
      placedBefore: [],
      reward: rng.next() < (MU[x]?.[action] as number) ? 1 : 0,
    };
  });
}

describe("estimators are unbiased on simulated logs with a known value", () => {
  it("IPS, SNIPS and DR: mean over replications within 3 standard errors of V; CI coverage near 95%", async () => {
    const reps = 1000;
    const n = 400;
    const names = ["ips", "snips", "dr"];
    const values: Record<string, number[]> = { ips: [], snips: [], dr: [] };
    const covered: Record<string, number> = { ips: 0, snips: 0, dr: 0 };
    for (let r = 0; r < reps; r++) {
      const rounds = simulate(n, new Xoshiro128(1000 + r));
      const result = await evaluateLog({ source: "sim", rounds, skipped: {}, notes: [] }, [target], {
        estimators: names,
        rewardModel: "tabular",
      });
      for (const e of result.targets[0]?.estimates ?? []) {
        values[e.estimator]?.push(e.value as number);
        const [lo, hi] = e.ci as [number, number];
        if (lo <= TRUE_VALUE && TRUE_VALUE <= hi) covered[e.estimator] = (covered[e.estimator] ?? 0) + 1;
      }
    }
    const lines: string[] = [];
    for (const name of names) {
      const v = values[name] as number[];
      const mean = v.reduce((s, x) => s + x, 0) / v.length;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
      const se = sd / Math.sqrt(v.length);
      const z = (mean - TRUE_VALUE) / se;
      const coverage = (covered[name] as number) / reps;
      lines.push(
        `${name}: mean ${mean.toFixed(5)} vs V ${TRUE_VALUE.toFixed(5)}, se ${se.toFixed(5)}, z ${z.toFixed(2)}, coverage ${coverage.toFixed(3)}`,
      );
      expect(Math.abs(z)).toBeLessThan(3);
      expect(coverage).toBeGreaterThan(0.9);
      // SNIPS's per-round terms (OBP) ignore the randomness of its denominator, so its CI is conservative
      // (≈ 0.99 here); IPS and DR sit at 0.93–0.95.
      expect(coverage).toBeLessThan(0.995);
    }
    console.log(`unbiasedness (${reps} replications of ${n} rounds):\n  ${lines.join("\n  ")}`);
  });
});
