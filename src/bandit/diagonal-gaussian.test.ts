import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { DiagonalGaussian } from "./diagonal-gaussian.js";
import { FeatureEncoder } from "./encoder.js";

/** weights(true) interleaved: what servingPairs() must hold. */
function interleaved(g: DiagonalGaussian): number[] {
  const [mu, vr] = g.weights(true);
  return Array.from({ length: 2 * g.dims }, (_, k) => (k % 2 === 0 ? mu[k >> 1]! : vr[k >> 1]!));
}

describe("DiagonalGaussian serving pairs", () => {
  it("holds the serving copy interleaved through updates, syncs and a snapshot round trip", () => {
    const rng = new Xoshiro128(5);
    const encoder = new FeatureEncoder({ dims: 1 << 8, interactions: true });
    const g = new DiagonalGaussian(1 << 8, 0.5, true);
    expect(Array.from(g.servingPairs()!)).toEqual(interleaved(g));
    for (let i = 0; i < 300; i++) {
      const input = {
        context: { u: `u${i % 7}`, x: rng.next() },
        candidates: [{ id: `i${i % 5}`, features: { cat: `c${i % 3}`, p: rng.next() * 10 } }],
      };
      g.updateLinear(encoder.encode(input), 0, rng.next() < 0.3 ? 1 : 0, 0.25, 1);
      if (i % 37 === 0) {
        g.syncServing();
        expect(Array.from(g.servingPairs()!)).toEqual(interleaved(g));
      }
    }
    // Between syncs the pairs stay with the serving copy, not the learner.
    expect(Array.from(g.servingPairs()!)).toEqual(interleaved(g));
    expect(interleaved(g)).not.toEqual(Array.from({ length: 2 * g.dims }, (_, k) => (k % 2 ? g.vr : g.mu)[k >> 1]));
    const restored = DiagonalGaussian.restore(JSON.parse(JSON.stringify(g.snapshot())));
    expect(Array.from(restored.servingPairs()!)).toEqual(interleaved(g));
    restored.syncServing();
    g.syncServing();
    expect(Array.from(restored.servingPairs()!)).toEqual(interleaved(g));
  });

  it("has no pairs without a serving copy", () => {
    expect(new DiagonalGaussian(16, 1, false).servingPairs()).toBeUndefined();
  });
});
