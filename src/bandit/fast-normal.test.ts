import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { fastNormal, fastNormals, inverseNormalCdf } from "./fast-normal.js";

describe("fastNormal", () => {
  it("inverts the normal CDF at known quantiles", () => {
    expect(inverseNormalCdf(0.5)).toBeCloseTo(0, 9);
    expect(inverseNormalCdf(0.975)).toBeCloseTo(1.959964, 5);
    expect(inverseNormalCdf(0.001)).toBeCloseTo(-3.090232, 5);
  });

  it("draws with mean 0, variance 1 and normal quantiles", () => {
    const rng = new Xoshiro128(11);
    const n = 200_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = fastNormal(rng);
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    xs.sort();
    expect(xs[Math.floor(0.8413 * n)]).toBeCloseTo(1, 1);
    expect(xs[Math.floor(0.0228 * n)]).toBeCloseTo(-2, 1);
  });

  it("draws in bulk exactly the values of successive single draws (same stream, same order)", () => {
    const one = new Xoshiro128(3);
    const bulk = new Xoshiro128(3);
    const out = new Float64Array(1000);
    fastNormals(bulk, out, 999);
    for (let i = 0; i < 999; i++) expect(out[i]).toBe(fastNormal(one));
    expect(bulk.next()).toBe(one.next());
    // Any Rng, not only Xoshiro128.
    const plain = {
      r: new Xoshiro128(4),
      next(): number {
        return this.r.next();
      },
    };
    fastNormals(plain, out, 10);
    const ref = new Xoshiro128(4);
    for (let i = 0; i < 10; i++) expect(out[i]).toBe(fastNormal(ref));
  });

  it("Xoshiro128.fill continues the next() stream", () => {
    const a = new Xoshiro128(99);
    const b = new Xoshiro128(99);
    a.next();
    b.next();
    const out = new Float64Array(257);
    a.fill(out, 257);
    for (let i = 0; i < 257; i++) expect(out[i]).toBe(b.next());
    expect(a.nextUint32()).toBe(b.nextUint32());
  });
});
