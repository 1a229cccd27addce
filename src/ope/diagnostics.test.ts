import { describe, expect, it } from "vitest";
import { diagnose, histogram } from "./diagnostics.js";

describe("diagnose", () => {
  it("computes mean and max weight, ESS = (Σw)²/Σw², zero-weight share and support deficiency", () => {
    const d = diagnose(Float64Array.from([0, 2, 2, 0]), 1, 4);
    expect(d.meanWeight).toBe(1);
    expect(d.maxWeight).toBe(2);
    expect(d.ess).toBeCloseTo(16 / 8, 12);
    expect(d.essShare).toBeCloseTo(0.5, 12);
    expect(d.zeroWeightShare).toBe(0.5);
    expect(d.supportDeficiency).toBe(0.25);
    expect(d.warnings.join(" ")).toMatch(/Only 4 rounds/);
    expect(d.warnings.join(" ")).toMatch(/never could/);
  });

  it("stays quiet for an on-policy log and warns when a few rounds carry the weight", () => {
    expect(diagnose(new Float64Array(5000).fill(1), 0, 5000).warnings).toEqual([]);
    const skewed = new Float64Array(5000).fill(0.5);
    skewed[0] = 2000;
    const d = diagnose(skewed, null, 0);
    expect(d.supportDeficiency).toBeNull();
    expect(d.warnings.join(" ")).toMatch(/Effective sample size/);
    expect(d.warnings.join(" ")).toMatch(/mean importance weight/);
    expect(d.warnings.join(" ")).toMatch(/consider clipping/);
  });
});

describe("histogram", () => {
  it("counts every weight in equal-width bins over [0, max]", () => {
    const h = histogram(Float64Array.from([0, 0.5, 1, 4]), 4);
    expect(h.edges).toEqual([0, 1, 2, 3, 4]);
    expect(h.counts).toEqual([2, 1, 0, 1]);
  });
});
