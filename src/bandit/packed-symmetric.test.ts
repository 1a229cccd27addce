import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import {
  addRowTimes,
  pack,
  packedOffsets,
  packedScaledIdentity,
  packedSize,
  rankOneDowndate,
  rankOneDowndateInto,
  symmetricTimes,
  unpack,
} from "./packed-symmetric.js";

/** A dense d×d symmetric matrix with entries uniform in [-0.5, 0.5). */
function randomSymmetric(d: number, rng: Xoshiro128): Float64Array {
  const full = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = rng.next() - 0.5;
      full[i * d + j] = v;
      full[j * d + i] = v;
    }
  }
  return full;
}

describe("packed symmetric matrices", () => {
  it("round-trips a symmetric matrix and reads rows as the full matrix would", () => {
    const d = 7;
    const rng = new Xoshiro128(2);
    const full = randomSymmetric(d, rng);
    const off = packedOffsets(d);
    const p = pack(full, d, off);
    expect(p.length).toBe(packedSize(d));
    expect(Array.from(unpack(p, d, off))).toEqual(Array.from(full));
    for (let j = 0; j < d; j++) {
      const out = new Float64Array(d).fill(1);
      addRowTimes(p, off, d, j, 3, out);
      for (let i = 0; i < d; i++) expect(out[i]).toBe(1 + full[j * d + i]! * 3);
    }
    const id = unpack(packedScaledIdentity(d, 0.5, off), d, off);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expect(id[i * d + j]).toBe(i === j ? 0.5 : 0);
  });

  it("multiplies by a dense vector as the full matrix does", () => {
    const d = 9;
    const rng = new Xoshiro128(5);
    const full = randomSymmetric(d, rng);
    const x = Float64Array.from({ length: d }, (_, i) => (i === 4 ? 0 : rng.next() * 4 - 2));
    const out = new Float64Array(d).fill(7); // overwritten, not added to
    symmetricTimes(pack(full, d, packedOffsets(d)), packedOffsets(d), d, x, out);
    for (let i = 0; i < d; i++) {
      let ref = 0;
      for (let j = 0; j < d; j++) ref += full[i * d + j]! * x[j]!;
      expect(out[i]).toBeCloseTo(ref, 14);
    }
  });

  it("downdates by u uᵀ·dv as the full matrix does, on even and odd sizes, skipping rows where u is 0", () => {
    for (const d of [8, 9]) {
      const rng = new Xoshiro128(d);
      const full = randomSymmetric(d, rng);
      const u = Float64Array.from({ length: d }, (_, i) => (i === 2 ? 0 : rng.next() * 2 - 1));
      const off = packedOffsets(d);
      const p = pack(full, d, off);
      rankOneDowndate(p, off, d, u, 0.3);
      const got = unpack(p, d, off);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          // The same product order as the stored triangle's (u_min·u_max)·dv, so exact.
          const [a, b] = i <= j ? [i, j] : [j, i];
          expect(got[i * d + j]).toBe(full[i * d + j]! - u[a]! * u[b]! * 0.3);
        }
      }
    }
  });

  it("downdates out of place into another array with the same numbers as in place, leaving the source as it was", () => {
    for (const d of [8, 9]) {
      const rng = new Xoshiro128(40 + d);
      const off = packedOffsets(d);
      const source = pack(randomSymmetric(d, rng), d, off);
      const before = Float64Array.from(source);
      // Rows 0 and 3 have u_i = 0: copied unchanged (stale values in the target must not survive).
      const u = Float64Array.from({ length: d }, (_, i) => (i === 0 || i === 3 ? 0 : rng.next() * 2 - 1));
      const inPlace = Float64Array.from(source);
      rankOneDowndate(inPlace, off, d, u, 0.7);
      const target = new Float64Array(packedSize(d)).fill(99);
      rankOneDowndateInto(source, target, off, d, u, 0.7);
      expect(Array.from(target)).toEqual(Array.from(inPlace));
      expect(Array.from(source)).toEqual(Array.from(before));
    }
  });
});
