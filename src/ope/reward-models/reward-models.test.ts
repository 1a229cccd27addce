import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../core/rng.js";
import type { LoggedRound } from "../logged-round.js";
import { getRewardModel, REWARD_MODELS } from "./registry.js";

/** Reward depends on context × action: action "a" pays 0.8 for segment "x", "b" pays 0.8 for "y"; else 0.1. */
function synthetic(n: number, seed: number): LoggedRound[] {
  const rng = new Xoshiro128(seed);
  const candidates = [{ id: "a" }, { id: "b" }];
  return Array.from({ length: n }, () => {
    const seg = rng.next() < 0.5 ? "x" : "y";
    const action = rng.next() < 0.5 ? 0 : 1;
    const good = (seg === "x" && action === 0) || (seg === "y" && action === 1);
    return {
      context: { seg },
      candidates,
      position: 0,
      action,
      propensity: 0.5,
      placedBefore: [],
      reward: rng.next() < (good ? 0.8 : 0.1) ? 1 : 0,
    };
  });
}

describe.each(Object.values(REWARD_MODELS))("reward model $name", (model) => {
  it("fills one finite prediction per candidate", () => {
    const rounds = synthetic(400, 1);
    const fitted = model.fit(rounds, { folds: 3, seed: 1 });
    const out = new Float64Array(2);
    rounds.forEach((r, i) => {
      fitted.predict(r, i, out);
      expect(Number.isFinite(out[0] as number) && Number.isFinite(out[1] as number)).toBe(true);
    });
  });
});

describe("learned models use context × action (cross-fitted)", () => {
  for (const name of ["ridge", "logistic"]) {
    it(`${name} ranks the good action first in each segment`, () => {
      const rounds = synthetic(3000, 2);
      const fitted = getRewardModel(name).fit(rounds, { folds: 3, seed: 2 });
      const out = new Float64Array(2);
      const ix = rounds.findIndex((r) => r.context.seg === "x");
      const iy = rounds.findIndex((r) => r.context.seg === "y");
      fitted.predict(rounds[ix] as LoggedRound, ix, out);
      expect(out[0]).toBeGreaterThan((out[1] as number) + 0.3);
      fitted.predict(rounds[iy] as LoggedRound, iy, out);
      expect(out[1]).toBeGreaterThan((out[0] as number) + 0.3);
    });
  }

  it("tabular ignores the context: both actions near their pooled mean 0.45", () => {
    const rounds = synthetic(3000, 3);
    const out = new Float64Array(2);
    getRewardModel("tabular")
      .fit(rounds, {})
      .predict(rounds[0] as LoggedRound, 0, out);
    expect(Math.abs((out[0] as number) - 0.45)).toBeLessThan(0.05);
    expect(Math.abs((out[1] as number) - 0.45)).toBeLessThan(0.05);
  });

  it("logistic refuses rewards outside [0, 1]", () => {
    const rounds = synthetic(10, 4).map((r) => ({ ...r, reward: 5 }));
    expect(() => getRewardModel("logistic").fit(rounds, {})).toThrow(/\[0, 1\]/);
    expect(() => getRewardModel("nope")).toThrow(/available: tabular/);
  });
});
