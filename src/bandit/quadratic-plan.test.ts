import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { ArenaLayout } from "./arena-layout.js";
import { pack, packedOffsets } from "./packed-symmetric.js";
import { QuadraticPlan } from "./quadratic-plan.js";

/** A random symmetric d×d matrix (full, row-major) and a sparse x listed in a scrambled slot order. */
function fixture(d: number, k: number, seed: number) {
  const rng = new Xoshiro128(seed);
  const full = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = rng.next() - 0.5;
      full[i * d + j] = v;
      full[j * d + i] = v;
    }
  }
  const x = new Float64Array(d);
  const nz = new Int32Array(d);
  const used = new Set<number>();
  while (used.size < k) {
    const i = Math.floor(rng.next() * d);
    if (used.has(i)) continue;
    nz[used.size] = i;
    used.add(i);
    x[i] = 4 * rng.next() - 2;
  }
  const mu = Float64Array.from({ length: d }, () => rng.next() - 0.5);
  return { full, x, nz, mu };
}

describe("QuadraticPlan", () => {
  it("gives xᵀΣx, μᵀx and |x|² of the dense product, for x listed in any slot order", () => {
    for (const [d, k, seed] of [
      [8, 1, 1],
      [16, 5, 2],
      [64, 6, 3],
      [64, 64, 4],
    ] as const) {
      const { full, x, nz, mu } = fixture(d, k, seed);
      const off = packedOffsets(d);
      const plan = new QuadraticPlan(d);
      plan.build(x, nz, k, off);
      let quad = 0;
      let mean = 0;
      let norm2 = 0;
      for (let i = 0; i < d; i++) {
        mean += mu[i]! * x[i]!;
        norm2 += x[i]! * x[i]!;
        for (let j = 0; j < d; j++) quad += x[i]! * full[i * d + j]! * x[j]!;
      }
      expect(plan.variance(pack(full, d, off))).toBeCloseTo(quad, 10);
      expect(plan.mean(mu)).toBeCloseTo(mean, 12);
      expect(plan.norm2).toBeCloseTo(norm2, 12);
    }
  });

  it("adds in DisjointGaussian's order (diagonal half, then the upper pairs by listing order): the same bits", () => {
    const d = 64;
    const { full, x, nz } = fixture(d, 7, 9);
    const off = packedOffsets(d);
    const cov = pack(full, d, off);
    const plan = new QuadraticPlan(d);
    plan.build(x, nz, 7, off);
    // The loop DisjointGaussian.quadratic() ran per candidate before the plan.
    let v = 0;
    for (let a = 0; a < 7; a++) {
      const i = nz[a]!;
      let s = 0.5 * cov[off[i]! + i]! * x[i]!;
      for (let b = a + 1; b < 7; b++) {
        const j = nz[b]!;
        s += cov[i <= j ? off[i]! + j : off[j]! + i]! * x[j]!;
      }
      v += 2 * x[i]! * s;
    }
    expect(plan.variance(cov)).toBe(v);
  });

  it("is rebuilt per x: a second build forgets the first", () => {
    const d = 16;
    const off = packedOffsets(d);
    const a = fixture(d, 6, 5);
    const b = fixture(d, 2, 6);
    const plan = new QuadraticPlan(d);
    plan.build(a.x, a.nz, 6, off);
    plan.build(b.x, b.nz, 2, off);
    const fresh = new QuadraticPlan(d);
    fresh.build(b.x, b.nz, 2, off);
    const cov = pack(a.full, d, off);
    expect(plan.variance(cov)).toBe(fresh.variance(cov));
    expect(plan.mean(a.mu)).toBe(fresh.mean(a.mu));
    expect(plan.k).toBe(2);
  });

  it("lists one probe per cache line an arena arm's reads touch, in any layout", () => {
    const d = 64;
    const off = packedOffsets(d);
    const layout = new ArenaLayout(d, off);
    const nz = new Int32Array(d);
    for (const hot of [[], [3, 9, 50]]) {
      if (hot.length > 0) {
        nz.set(hot);
        for (let r = 0; r < 1000; r++) layout.noteListed(nz, hot.length);
        expect(layout.update()).toBe(true);
      }
      const { x, nz: listed } = fixture(d, 7, 9);
      const plan = new QuadraticPlan(d);
      plan.build(x, listed, 7, layout.rowAt, layout.order);
      plan.lines();
      const probes = Array.from(plan.probes.subarray(0, plan.probeCount));
      // What meanBeforeDiagonal and varianceInArena read: μ_i and Σ[i, j] of the listed slots, i ≤ j.
      const read = new Set<number>();
      for (let a = 0; a < 7; a++) {
        read.add(layout.muAt[listed[a]!]! >> 4);
        for (let b = a; b < 7; b++) read.add(layout.position(listed[a]!, listed[b]!) >> 4);
      }
      expect(new Set(probes.map((p) => p >> 4))).toEqual(read);
      expect(probes.length).toBe(read.size);
    }
  });
});
