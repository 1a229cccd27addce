import { describe, expect, it } from "vitest";
import type { EncoderOptions } from "./encoder.js";
import { type ModelOptions, RewardModel } from "./reward-model.js";

const features: EncoderOptions = {
  dims: 1 << 18,
  interactions: true,
  id: false,
  score: false,
  numeric: "raw",
  profile: "all",
};
const hybrid: ModelOptions = {
  model: "hybrid",
  priorVariance: 0.5,
  armPriorVariance: 0.2,
  noiseVariance: 0.25,
  armDims: 64,
  maxArms: 10,
  likelihood: "gaussian",
  serving: false,
};

describe("RewardModel, hybrid (shared + per-item)", () => {
  it("first update from the prior: the predicted mean is the exact joint Kalman mean", () => {
    const model = new RewardModel(hybrid, features);
    const input = { context: {}, candidates: [{ id: "a", features: { f: 1 } }] };
    const before = model.predict(input, false, true);
    // Prior predictive of the candidate's score: shared slot f (pv) + the arm's full vector (v_d).
    const v = before.variance[0]!;
    expect(before.mean[0]).toBe(0);
    model.update(input, 0, 1, 1);
    const after = model.predict(input, false, true);
    // The update sees the shared constant slot too (pv more prior variance); the prediction leaves it out.
    const s = v + hybrid.priorVariance + hybrid.noiseVariance;
    expect(after.mean[0]).toBeCloseTo(v / s, 12);
    // Factorized: no negative cross-covariance, so the variance shrinks less than the exact joint's.
    expect(after.variance[0]).toBeLessThan(v);
    expect(after.variance[0]).toBeGreaterThanOrEqual(v - (v * v) / s - 1e-12);
  });

  it("the shared part carries what one item taught to another item with the same features", () => {
    const model = new RewardModel(hybrid, features);
    const disjoint = new RewardModel({ ...hybrid, model: "disjoint" }, features);
    const seen = { context: { device: "mobile" }, candidates: [{ id: "a", features: { cat: "shoes" } }] };
    for (let t = 0; t < 20; t++) {
      model.update(seen, 0, 1, 1);
      disjoint.update(seen, 0, 1, 1);
    }
    const unseen = { context: { device: "mobile" }, candidates: [{ id: "b", features: { cat: "shoes" } }] };
    expect(model.predict(unseen, false, false).mean[0]).toBeGreaterThan(0.2);
    expect(disjoint.predict(unseen, false, false).mean[0]).toBe(0);
    // Snapshots keep both parts.
    const restored = new RewardModel(hybrid, features);
    restored.restore(model.snapshot());
    expect(Array.from(restored.predict(seen, false, true).mean)).toEqual(
      Array.from(model.predict(seen, false, true).mean),
    );
    expect(restored.describe()).toEqual({ arms: 1, dims: 1 << 18 });
  });

  it("rejects a logistic likelihood", () => {
    expect(() => new RewardModel({ ...hybrid, likelihood: "logistic" }, features)).toThrow(/Gaussian/);
  });
});
