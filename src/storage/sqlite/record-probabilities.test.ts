import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../core/rng.js";
import { ByteReader, ByteWriter } from "./byte-io.js";
import { readProbabilitiesInto, writeProbabilities } from "./record-probabilities.js";

const COUNTS_FORM = 4;
const bits = (values: ArrayLike<number>) => Array.from(new Uint8Array(Float64Array.from(values).buffer));

/**
 * A Thompson pool's slot distribution exactly as ordered-pool.ts and sample-pool.ts compute it: `pool` samples
 * spread over the unplaced candidates, then p[c] = count_c · share + base, placed candidates 0.
 */
function poolDistribution(rng: Xoshiro128, n: number, pool: number, floor: number, placed: number): Float64Array {
  const p = new Float64Array(n);
  const isPlaced = (c: number) => c < placed;
  // Winners concentrate on a few candidates, as a posterior does: a sample picks among the first dozen mostly.
  for (let m = 0; m < pool; m++) {
    let c = placed + Math.floor(rng.next() ** 3 * (n - placed));
    if (isPlaced(c)) c = placed;
    p[c] = (p[c] as number) + 1;
  }
  const unplaced = n - placed;
  const share = (1 - floor) / pool;
  const base = floor / unplaced;
  for (let c = 0; c < n; c++) p[c] = !isPlaced(c) ? (p[c] as number) * share + base : 0;
  return p;
}

function roundTrip(values: Float64Array): { bytes: Uint8Array; decoded: Float64Array } {
  const w = new ByteWriter(64);
  expect(writeProbabilities(values, w, true)).toBe(true);
  const bytes = w.finish();
  const decoded = new Float64Array(values.length + 2).fill(7);
  readProbabilitiesInto(new ByteReader(bytes), decoded, 1);
  // Nothing written outside the slot's own entries.
  expect([decoded[0], decoded[values.length + 1]]).toEqual([7, 7]);
  return { bytes, decoded: decoded.subarray(1, values.length + 1) };
}

describe("logged distributions as pool counts", () => {
  it("stores Thompson pool distributions as counts with share and base when smaller, bit for bit", () => {
    const rng = new Xoshiro128(11);
    for (const [n, pool, floor] of [
      [100, 64, 0.005],
      [100, 64, 0.1],
      [37, 200, 1 / 3],
      [300, 1000, 0.05],
    ] as const) {
      let byCounts = 0;
      for (let placed = 0; placed < 10; placed++) {
        const values = poolDistribution(rng, n, pool, floor, placed);
        const { bytes, decoded } = roundTrip(values);
        expect(bits(decoded)).toEqual(bits(values));
        if (bytes[0] === COUNTS_FORM) byCounts++;
        // share, base, an index per placed candidate and an (index, count) per candidate a sample chose.
        const base = Math.min(...values.filter((v) => v > 0));
        const chosen = values.filter((v) => v > base).length;
        // (A palette of the few distinct values is chosen when it is smaller still.)
        expect(bytes.length).toBeLessThanOrEqual(20 + 16 + (placed + chosen) * (n < 128 ? 1 : 2) + chosen * 2);
      }
      expect(byCounts).toBeGreaterThan(0);
    }
  });

  it("falls back to another exact form when no share and base reproduce every value", () => {
    const rng = new Xoshiro128(5);
    const values = poolDistribution(rng, 100, 64, 0.005, 3);
    const nudged = Float64Array.from(values);
    const top = nudged.indexOf(Math.max(...nudged));
    // One ulp off: no count reproduces it.
    nudged[top] = (nudged[top] as number) * (1 + Number.EPSILON);
    expect(nudged[top]).not.toBe(values[top]);
    const everyoneWon = Float64Array.from({ length: 8 }, (_, j) => ((j % 3) + 1) * 0.05 + 0.01);
    for (const v of [nudged, everyoneWon]) {
      const { bytes, decoded } = roundTrip(v);
      expect(bytes[0]).not.toBe(COUNTS_FORM);
      expect(bits(decoded)).toEqual(bits(v));
    }
  });

  it("round-trips any distribution exactly, whatever form it takes", () => {
    const rng = new Xoshiro128(99);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rng.next() * 150);
      const kind = t % 4;
      const values = Float64Array.from({ length: n }, (_, j) => {
        if (kind === 0) return rng.next();
        if (kind === 1) return rng.next() < 0.8 ? 0 : rng.next();
        if (kind === 2) return Math.floor(rng.next() * 5) / 16 + (j === 0 ? -0 : 0);
        return rng.next() < 0.1 ? 0 : Math.floor(rng.next() * 4) * 0.0125 + 0.001;
      });
      expect(bits(roundTrip(values).decoded)).toEqual(bits(values));
    }
  });

  it("refuses a counts entry whose index lies outside its distribution", () => {
    const values = poolDistribution(new Xoshiro128(1), 20, 64, 0.05, 2);
    const { bytes } = roundTrip(values);
    expect(bytes[0]).toBe(COUNTS_FORM);
    // form, n = 20, share, base, zeros = 2, then the first zero's index: made 20 (one past the end).
    const damaged = bytes.slice();
    expect(damaged[19]).toBe(0);
    damaged[19] = 20;
    expect(() => readProbabilitiesInto(new ByteReader(damaged), new Float64Array(40), 0)).toThrow(/out of range/);
  });
});
