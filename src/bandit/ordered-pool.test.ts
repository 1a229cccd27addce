import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { OrderedPool } from "./ordered-pool.js";

/** The pool's definition computed the long way: every score, each sample's argmax (ties to the lower index). */
function bruteForce(pool: OrderedPool, placed: Uint8Array, floor: number): Float64Array {
  const { n, size } = pool;
  const p = new Float64Array(n);
  let unplaced = 0;
  for (let c = 0; c < n; c++) if (placed[c] === 0) unplaced++;
  if (unplaced === 0) return p;
  for (let m = 0; m < size; m++) {
    let best = -1;
    for (let c = 0; c < n; c++) {
      if (placed[c] === 0 && (best < 0 || pool.score(m, c) > pool.score(m, best))) best = c;
    }
    p[best] = p[best]! + 1;
  }
  for (let c = 0; c < n; c++) p[c] = placed[c] === 0 ? p[c]! * ((1 - floor) / size) + floor / unplaced : 0;
  return p;
}

interface Case {
  n: number;
  size: number;
  rows: Float32Array[];
  rowMax: Float64Array;
  offsets: Int32Array;
  mean: Float64Array;
  sd: Float64Array;
}

/** Random requests, often with ties: normals on a coarse grid, repeated means, zero sds. */
function randomCase(rng: Xoshiro128): Case {
  const n = 1 + Math.floor(rng.next() * 40);
  const size = 1 + Math.floor(rng.next() * 20);
  const coarse = rng.next() < 0.5;
  const rows = Array.from({ length: n }, () =>
    Float32Array.from({ length: size }, () => (coarse ? Math.round(rng.next() * 4) - 2 : 4 * rng.next() - 2)),
  );
  const rowMax = Float64Array.from(rows, (r) => Math.max(...r));
  const offsets = Int32Array.from({ length: n }, () => Math.floor(rng.next() * size));
  const mean = Float64Array.from({ length: n }, () => (coarse ? Math.round(rng.next() * 3) : rng.next() * 3));
  const sd = Float64Array.from({ length: n }, () => (rng.next() < 0.2 ? 0 : rng.next() * (coarse ? 1 : 0.3)));
  return { n, size, rows, rowMax, offsets, mean, sd };
}

function load(pool: OrderedPool, k: Case): OrderedPool {
  return pool.load(k.n, 0, k.rows, k.rowMax, k.offsets, k.mean, k.sd);
}

describe("OrderedPool", () => {
  it("gives exactly the distributions of every score's argmax, slot after slot, ties to the lower index", () => {
    const rng = new Xoshiro128(42);
    for (let trial = 0; trial < 150; trial++) {
      const k = randomCase(rng);
      const pool = load(new OrderedPool(k.size), k);
      const placed = new Uint8Array(k.n);
      // Slots as rank() places them (the set only grows), past the point where every candidate is placed.
      for (let slot = 0; slot <= k.n; slot++) {
        const p = pool.distribution(placed, 0.05);
        expect(Array.from(p)).toEqual(Array.from(bruteForce(pool, placed, 0.05)));
        const unplaced = [...placed.keys()].filter((c) => placed[c] === 0);
        if (unplaced.length === 0) break;
        placed[unplaced[Math.floor(rng.next() * unplaced.length)]!] = 1;
      }
    }
  });

  it("answers masks in any order (a smaller placed set after a larger one) and sums to 1", () => {
    const rng = new Xoshiro128(7);
    for (let trial = 0; trial < 200; trial++) {
      const k = randomCase(rng);
      const pool = load(new OrderedPool(k.size), k);
      for (let q = 0; q < 6; q++) {
        const placed = Uint8Array.from({ length: k.n }, () => (rng.next() < 0.4 ? 1 : 0));
        const p = pool.distribution(placed, 0.1);
        expect(Array.from(p)).toEqual(Array.from(bruteForce(pool, placed, 0.1)));
        if (placed.includes(0)) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      }
    }
  });

  it("keeps the index-order definition when a mean is not finite (the bound is off)", () => {
    const rng = new Xoshiro128(3);
    const k = randomCase(rng);
    k.mean[0] = Number.NaN;
    if (k.n > 1) k.mean[k.n - 1] = Number.POSITIVE_INFINITY;
    const pool = load(new OrderedPool(k.size), k);
    const placed = new Uint8Array(k.n);
    expect(Array.from(pool.distribution(placed, 0.2))).toEqual(Array.from(bruteForce(pool, placed, 0.2)));
  });

  it("reuses its buffers across loads of different sizes without carrying anything over", () => {
    const rng = new Xoshiro128(9);
    const pool = new OrderedPool(12);
    for (let trial = 0; trial < 50; trial++) {
      const k = { ...randomCase(rng), size: 12 };
      k.rows = k.rows.map(() => Float32Array.from({ length: 12 }, () => 4 * rng.next() - 2));
      k.rowMax = Float64Array.from(k.rows, (r) => Math.max(...r));
      k.offsets = k.offsets.map(() => Math.floor(rng.next() * 12));
      const fresh = load(new OrderedPool(12), k);
      const placed = new Uint8Array(k.n);
      placed[0] = 1;
      expect(Array.from(load(pool, k).distribution(placed, 0))).toEqual(Array.from(fresh.distribution(placed, 0)));
    }
  });
});
