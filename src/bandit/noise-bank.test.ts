import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { fastNormal } from "./fast-normal.js";
import { NoiseBank } from "./noise-bank.js";
import type { OrderedPool } from "./ordered-pool.js";

const M = 64;

/** Every candidate's whole row as the pool reads it (score() fills a row it reaches unfilled). */
function rowsOf(pool: OrderedPool, n: number): number[][] {
  return Array.from({ length: n }, (_, c) => Array.from({ length: M }, (_, m) => pool.score(m, c)));
}

/** One request of n candidates with sd 1 and means 0, −1, −2, ...: a score is the row's value plus its mean. */
function request(bank: NoiseBank, ids: string[], epoch: number): OrderedPool {
  const n = ids.length;
  return bank.entry(
    ids,
    0,
    epoch,
    "policy",
    Float64Array.from({ length: n }, (_, c) => -c),
    new Float64Array(n).fill(1),
  );
}

/** The pool's definition the long way: every score, each sample's argmax among the unplaced (ties to the lower index). */
function bruteForce(pool: OrderedPool, n: number, placed: Uint8Array, floor: number): number[] {
  const p = new Array<number>(n).fill(0);
  const unplaced = placed.filter((x) => x === 0).length;
  for (let m = 0; m < M; m++) {
    let best = -1;
    for (let c = 0; c < n; c++) if (placed[c] === 0 && (best < 0 || pool.score(m, c) > pool.score(m, best))) best = c;
    p[best] = p[best]! + 1;
  }
  return p.map((x, c) => (placed[c] === 0 ? x * ((1 - floor) / M) + floor / unplaced : 0));
}

describe("NoiseBank", () => {
  it("fills a row with the same values whenever it is first read, and only the rows a pool reads", () => {
    const ids = Array.from({ length: 30 }, (_, i) => `item-${i}`);
    const early = new NoiseBank(M);
    const late = new NoiseBank(M);
    // `early` fills every row at once; `late` serves a request first (filling only what its scans read).
    const all = rowsOf(request(early, ids, 3), ids.length).map((r, c) => r.map((z) => z + c));
    const pool = request(late, ids, 3);
    pool.distribution(new Uint8Array(ids.length), 0);
    expect(late.rowsFilled).toBeLessThan(ids.length);
    expect(rowsOf(request(late, ids, 3), ids.length).map((r, c) => r.map((z) => z + c))).toEqual(all);
    // Another epoch draws other values.
    expect(rowsOf(request(early, ids, 4), ids.length).map((r, c) => r.map((z) => z + c))).not.toEqual(all);
  });

  it("gives exactly the distributions of every score's argmax, whichever rows were filled", () => {
    const rng = new Xoshiro128(5);
    const bank = new NoiseBank(M);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + Math.floor(rng.next() * 60);
      const ids = Array.from({ length: n }, (_, i) => `i${Math.floor(rng.next() * 200)}-${i}`);
      const mean = Float64Array.from({ length: n }, () => rng.next());
      const sd = Float64Array.from({ length: n }, () => (rng.next() < 0.1 ? 0 : 0.3 * rng.next()));
      const pool = bank.entry(ids, trial * 977, trial >> 3, "policy", mean, sd);
      const placed = new Uint8Array(n);
      for (let slot = 0; slot < Math.min(n, 8); slot++) {
        const got = Array.from(pool.distribution(placed, 0.05));
        expect(got).toEqual(bruteForce(pool, n, placed, 0.05));
        placed[got.indexOf(Math.max(...got))] = 1;
      }
    }
  });

  it("draws rows with the law of M independent fastNormal draws (mean, variance, the rows' largest value)", () => {
    const items = 3000;
    const bank = new NoiseBank(M);
    const ids = Array.from({ length: items }, (_, i) => `sku-${i}`);
    const rows = rowsOf(request(bank, ids, 1), items).map((r, c) => r.map((z) => z + c));
    const values = rows.flat();
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    // The row maxima against maxima of M plain fastNormal draws: same mean and spread (E[max of 64] ≈ 2.41).
    const rng = new Xoshiro128(17);
    const direct = Array.from({ length: items }, () => Math.max(...Array.from({ length: M }, () => fastNormal(rng))));
    const maxima = rows.map((r) => Math.max(...r));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sdOf = (xs: number[]) => Math.sqrt(avg(xs.map((x) => (x - avg(xs)) ** 2)));
    // Standard error of a mean of 3,000 maxima (sd ≈ 0.4): ≈ 0.007; of their difference ≈ 0.01.
    expect(Math.abs(avg(maxima) - avg(direct))).toBeLessThan(0.04);
    expect(Math.abs(sdOf(maxima) - sdOf(direct))).toBeLessThan(0.04);
    // Where the largest value sits is uniform over the row: no position is favoured.
    const at = new Array<number>(M).fill(0);
    for (const r of rows) at[r.indexOf(Math.max(...r))]! += 1;
    expect(Math.max(...at)).toBeLessThan((3 * items) / M);
  });
});
