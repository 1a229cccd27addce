import { describe, expect, it } from "vitest";
import { SamplePool } from "./sample-pool.js";

const fill = (rng: { next(): number }, scores: Float32Array) => {
  for (let i = 0; i < scores.length; i++) scores[i] = rng.next();
};

describe("SamplePool", () => {
  it("gives each unplaced candidate exactly its share of sample wins plus the floor", () => {
    const pool = new SamplePool({ size: 50, topK: 2, cacheSize: 4 });
    const n = 6;
    const entry = pool.get("ctx", 0, "seed", n, fill);
    for (const placed of [[], [0], [3, 1, 5], [0, 1, 2]]) {
      const mask = new Uint8Array(n);
      for (const i of placed) mask[i] = 1;
      const wins = new Array(n).fill(0);
      for (let m = 0; m < 50; m++) {
        let best = -1;
        for (let c = 0; c < n; c++)
          if (!mask[c] && (best < 0 || entry.scores[m * n + c]! > entry.scores[m * n + best]!)) best = c;
        wins[best]++;
      }
      const k = n - placed.length;
      const p = entry.distribution(mask, 0.1);
      for (let c = 0; c < n; c++) {
        expect(p[c]).toBeCloseTo(mask[c] ? 0 : (0.9 * wins[c]) / 50 + 0.1 / k, 12);
      }
    }
  });

  it("is a pure function of (key, epoch, seed) and rebuilds when the epoch moves", () => {
    const a = new SamplePool({ size: 8, topK: 3, cacheSize: 4 });
    const b = new SamplePool({ size: 8, topK: 3, cacheSize: 4 });
    const e1 = a.get("k", 1, "s", 5, fill);
    expect(Array.from(b.get("k", 1, "s", 5, fill).scores)).toEqual(Array.from(e1.scores));
    expect(a.get("k", 1, "s", 5, fill)).toBe(e1);
    expect(a.builds).toBe(1);
    const e2 = a.get("k", 2, "s", 5, fill);
    expect(e2).not.toBe(e1);
    expect(Array.from(e2.scores)).not.toEqual(Array.from(e1.scores));
  });

  it("evicts the least recently used context", () => {
    const pool = new SamplePool({ size: 2, topK: 1, cacheSize: 2 });
    const a = pool.get("a", 0, "s", 3, fill);
    pool.get("b", 0, "s", 3, fill);
    pool.get("a", 0, "s", 3, fill);
    pool.get("c", 0, "s", 3, fill);
    expect(pool.cached).toBe(2);
    expect(pool.get("a", 0, "s", 3, fill)).toBe(a);
    expect(pool.builds).toBe(3);
  });

  it("recycles an evicted context's buffers without changing any pool", () => {
    const small = new SamplePool({ size: 16, topK: 3, cacheSize: 1 });
    const fresh = (key: string) => new SamplePool({ size: 16, topK: 3, cacheSize: 4 }).get(key, 2, "s", 7, fill);
    for (const key of ["a", "b", "a", "c", "b"]) {
      const e = small.get(key, 2, "s", 7, fill);
      const ref = fresh(key);
      expect(Array.from(e.scores)).toEqual(Array.from(ref.scores));
      expect(Array.from(e.winners)).toEqual(Array.from(ref.winners));
      const mask = new Uint8Array(7);
      mask[ref.winners[0]!] = 1;
      expect(Array.from(e.distribution(mask, 0.05))).toEqual(Array.from(ref.distribution(mask, 0.05)));
    }
    expect(small.cached).toBe(1);
    expect(small.builds).toBe(5);
  });
});
