import { describe, expect, it } from "vitest";
import type { EncoderOptions } from "./encoder.js";
import { type ModelOptions, type Predictions, RewardModel } from "./reward-model.js";

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

describe("RewardModel learning, every structure", () => {
  const items = Array.from({ length: 6 }, (_, i) => ({ id: `i${i}`, features: { cat: `c${i % 3}`, p: i / 6 } }));
  const inputOf = (t: number) => ({ context: { device: t % 2 === 0 ? "m" : "d", n: (t % 7) / 7 }, candidates: items });
  /**
   * Serving predictions of the shared part sum cached per-block interaction sums: learner's up to rounding. The
   * hybrid's context-only arms serve from a float32 copy (serving-arena.ts): learner's to float32 precision.
   */
  const expectSame = (a: Predictions, b: Predictions, digits = 12) => {
    for (let c = 0; c < a.n; c++) {
      expect(a.mean[c]).toBeCloseTo(b.mean[c]!, digits);
      expect(a.variance[c]).toBeCloseTo(b.variance[c]!, digits);
    }
  };
  const learn = (model: RewardModel, from: number, to: number) => {
    for (let t = from; t < to; t++) model.update(inputOf(t), (t * 5) % 6, t % 3 === 0 ? 1 : 0, 1);
  };

  for (const structure of ["shared", "disjoint", "hybrid"] as const) {
    it(`${structure}: a sync makes serving predictions the learner's; a restored model continues exactly as the uninterrupted one`, () => {
      const opts: ModelOptions = { ...hybrid, model: structure, armDims: 16, serving: true };
      const model = new RewardModel(opts, features);
      learn(model, 0, 40);
      model.syncServing();
      const probe = inputOf(1);
      const digits = structure === "hybrid" ? 6 : 12;
      expectSame(model.predict(probe, true, true), model.predict(probe, false, true), digits);
      learn(model, 40, 50); // serving stays at the sync, the learner moves
      const frozen = model.predict(probe, true, true);
      expect(frozen.mean).not.toEqual(model.predict(probe, false, true).mean);
      // Replay: the same updates from a restored snapshot give the same state, bit for bit.
      const restored = new RewardModel(opts, features);
      restored.restore(model.snapshot());
      expect(restored.predict(probe, true, true)).toEqual(frozen);
      learn(model, 50, 80);
      learn(restored, 50, 80);
      expect(restored.snapshot()).toEqual(model.snapshot());
      model.syncServing();
      restored.syncServing();
      expectSame(restored.predict(probe, true, true), model.predict(probe, false, true), digits);
      expect(restored.predict(probe, true, true)).toEqual(model.predict(probe, true, true));
    });
  }
});
