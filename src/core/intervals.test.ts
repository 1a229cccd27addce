import { describe, expect, it } from "vitest";
import { meanInterval, meanMoments, proportionMoments, relativeLift, wilson, Z95 } from "./intervals.js";

describe("interval estimates", () => {
  it("gives Wilson intervals inside [0, 1], never [0, 0], and null without data", () => {
    expect(wilson(0, 0)).toEqual({ value: null, interval: null, count: 0 });
    const none = wilson(0, 20);
    expect(none.value).toBe(0);
    expect(none.interval?.[0]).toBe(0);
    // Upper bound at zero successes: z²/(n + z²) (the "rule of three"-like Wilson bound).
    expect(none.interval?.[1]).toBeCloseTo((Z95 * Z95) / (20 + Z95 * Z95), 12);
    const all = wilson(20, 20);
    expect(all.interval?.[1]).toBe(1);
    expect(all.interval?.[0]).toBeCloseTo(20 / (20 + Z95 * Z95), 12);
    for (const [k, n] of [
      [1, 3],
      [7, 50],
      [499, 1000],
      [1, 1],
    ] as const) {
      const { value, interval } = wilson(k, n);
      const [low, high] = interval as [number, number];
      expect(low).toBeGreaterThanOrEqual(0);
      expect(high).toBeLessThanOrEqual(1);
      expect(low).toBeLessThanOrEqual(value as number);
      expect(high).toBeGreaterThanOrEqual(value as number);
    }
    // The bounds at zero (all) successes are exactly 0 (1) for every n, not a rounding residue above
    // (below) it: a rollout's conversion with no purchase yet says [0, …].
    for (let n = 1; n <= 2000; n++) {
      expect(wilson(0, n).interval?.[0]).toBe(0);
      expect(wilson(n, n).interval?.[1]).toBe(1);
    }
    // A textbook value: 8 of 10 → [0.4902, 0.9433] (Newcombe 1998, Stat. Med. 17, table I, method 3).
    const t = wilson(8, 10).interval as [number, number];
    expect(t[0]).toBeCloseTo(0.4902, 4);
    expect(t[1]).toBeCloseTo(0.9433, 4);
  });

  it("gives the normal interval of a mean, clipped where the quantity cannot go, null below two values", () => {
    expect(meanInterval(0, 0, 0).value).toBeNull();
    expect(meanInterval(5, 25, 1)).toEqual({ value: 5, interval: null, count: 1 });
    const xs = [0, 0, 0, 10, 30];
    const sum = xs.reduce((a, b) => a + b, 0);
    const sumSq = xs.reduce((a, b) => a + b * b, 0);
    const mean = sum / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    const open = meanInterval(sum, sumSq, xs.length);
    expect(open.interval?.[0]).toBeCloseTo(mean - (Z95 * sd) / Math.sqrt(5), 9);
    expect(open.interval?.[1]).toBeCloseTo(mean + (Z95 * sd) / Math.sqrt(5), 9);
    expect(open.interval?.[0]).toBeLessThan(0);
    expect(meanInterval(sum, sumSq, xs.length, 0).interval?.[0]).toBe(0);
  });

  it("gives the relative lift with a log-ratio interval, null where a mean is zero", () => {
    const c = proportionMoments(60, 1000);
    const i = proportionMoments(50, 1000);
    const lift = relativeLift(c, i);
    expect(lift?.value).toBeCloseTo(0.2, 12);
    const se = Math.sqrt((0.06 * 0.94) / 1000 / 0.06 ** 2 + (0.05 * 0.95) / 1000 / 0.05 ** 2);
    expect(lift?.interval[0]).toBeCloseTo(1.2 * Math.exp(-Z95 * se) - 1, 12);
    expect(lift?.interval[1]).toBeCloseTo(1.2 * Math.exp(Z95 * se) - 1, 12);
    expect(relativeLift(proportionMoments(0, 10), i)).toBeNull();
    expect(relativeLift(undefined, i)).toBeNull();
    expect(meanMoments(3, 9, 1)).toBeUndefined();
  });
});
