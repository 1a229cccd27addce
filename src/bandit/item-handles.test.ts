import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { DisjointGaussian } from "./disjoint-gaussian.js";
import { type EncodedInput, FeatureEncoder } from "./encoder.js";
import { ItemHandles } from "./item-handles.js";
import { NoiseBank } from "./noise-bank.js";

describe("ItemHandles", () => {
  it("gives each id a dense handle, kept while the table lives; finds without assigning", () => {
    const items = new ItemHandles();
    const out = new Int32Array(3);
    expect(Array.from(items.resolve(["a", "b", "a"], 3, out))).toEqual([0, 1, 0]);
    expect(items.handle("c")).toBe(2);
    expect(items.find("b")).toBe(1);
    expect(items.find("zz")).toBe(-1);
    expect(items.size).toBe(3);
  });

  it("starts over (a new era) before a request's ids that might not fit, never inside it", () => {
    const items = new ItemHandles(4);
    const out = new Int32Array(3);
    items.resolve(["a", "b"], 2, out);
    expect(items.era).toBe(0);
    // 2 kept + 3 asked > 4: the table starts over first, so the three handles are of one era.
    expect(Array.from(items.resolve(["a", "x", "y"], 3, out))).toEqual([0, 1, 2]);
    expect(items.era).toBe(1);
    expect(items.find("b")).toBe(-1);
  });
});

describe("handles shared by the noise bank and the serving arena", () => {
  const D = 8;
  const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: false, actionFeatures: false });
  const ids = (r: number) => Array.from({ length: 6 }, (_, c) => `item${(r * 5 + c) % 40}`);
  const encoded = (rng: Xoshiro128, n: number): EncodedInput =>
    enc.encode({
      context: { u: Math.floor(rng.next() * 3), n: rng.next() },
      candidates: Array.from({ length: n }, (_, c) => ({ id: `c${c}` })),
    });

  it("serve the same numbers when the table starts over again and again as with one that never does", () => {
    const small = new ItemHandles(8);
    const models = [new DisjointGaussian(D, 0.5, 30, true, small), new DisjointGaussian(D, 0.5, 30, true)];
    const banks = [new NoiseBank(16, undefined, small), new NoiseBank(16)];
    const rng = new Xoshiro128(3);
    for (let r = 0; r < 40; r++) {
      const request = ids(r);
      const e = encoded(rng, request.length);
      const c = r % request.length;
      const one = encoded(new Xoshiro128(r), 1);
      for (const m of models) m.update(one, request[c]!, r % 3 === 0 ? 1 : 0, "gaussian", 0.25, 1);
      if (r % 4 === 3) for (const m of models) m.syncServing();
      const results = models.map((m, k) => {
        const handles = k === 0 ? small.resolve(request, request.length, new Int32Array(request.length)) : undefined;
        const mean = new Float64Array(request.length);
        const variance = new Float64Array(request.length);
        m.predict(e, request, true, mean, variance, true, handles);
        const pool = banks[k]!.entry(request, r, r >> 3, "p", mean, variance.map(Math.sqrt), handles);
        return [Array.from(mean), Array.from(variance), Array.from(pool.distribution(new Uint8Array(6), 0.01))];
      });
      expect(results[0]).toEqual(results[1]);
    }
    expect(small.era).toBeGreaterThan(3);
  });
});
