import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalQuantile, percentile, summarize } from "./summarize.js";

const fixture = JSON.parse(readFileSync(new URL("../../spec/ope/summarize.json", import.meta.url), "utf8")) as {
  terms: number[];
  value: number;
  stderr: number;
  ci95: [number, number];
  ci90: [number, number];
};

describe("summarize", () => {
  it("matches the hand-computed value, stderr and normal CIs", () => {
    const terms = Float64Array.from(fixture.terms);
    const s = summarize(terms);
    expect(s.value).toBeCloseTo(fixture.value, 12);
    expect(s.stderr).toBeCloseTo(fixture.stderr, 12);
    expect(s.ci[0]).toBeCloseTo(fixture.ci95[0], 8);
    expect(s.ci[1]).toBeCloseTo(fixture.ci95[1], 8);
    const s90 = summarize(terms, { alpha: 0.1 });
    expect(s90.level).toBeCloseTo(0.9, 12);
    expect(s90.ci[0]).toBeCloseTo(fixture.ci90[0], 8);
  });

  it("gives a seeded bootstrap CI that repeats with the seed and brackets the value", () => {
    const terms = Float64Array.from({ length: 200 }, (_, i) => (i % 7) / 3);
    const a = summarize(terms, { bootstrap: 300, seed: 7 });
    const b = summarize(terms, { bootstrap: 300, seed: 7 });
    const c = summarize(terms, { bootstrap: 300, seed: 8 });
    expect(a.bootstrapCi).toEqual(b.bootstrapCi);
    expect(a.bootstrapCi).not.toEqual(c.bootstrapCi);
    const [lo, hi] = a.bootstrapCi as [number, number];
    expect(lo).toBeLessThan(a.value);
    expect(hi).toBeGreaterThan(a.value);
    // The bootstrap and normal intervals of a mean of 200 bounded terms are close.
    expect(Math.abs(hi - lo - (a.ci[1] - a.ci[0]))).toBeLessThan(0.25 * (a.ci[1] - a.ci[0]));
  });

  it("omits the bootstrap CI unless asked", () => {
    expect(summarize(Float64Array.from([1, 2, 3])).bootstrapCi).toBeUndefined();
  });

  it("inverts the normal CDF", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
  });

  it("takes numpy's linear percentile", () => {
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 0.25)).toBeCloseTo(1.75, 12);
  });
});
