import { describe, expect, it } from "vitest";
import { normal, rngFor } from "../core/rng.js";
import { fixedHalfWidth95, mixtureHalfWidth } from "./confidence-sequence.js";

describe("mixture confidence sequence", () => {
  it("is wider than a fixed-sample interval and shrinks with the variance", () => {
    for (const v of [1e-2, 1e-4, 1e-6]) expect(mixtureHalfWidth(v, 0.05, 1e-4)).toBeGreaterThan(fixedHalfWidth95(v));
    expect(mixtureHalfWidth(1e-4, 0.05, 1e-4)).toBeLessThan(mixtureHalfWidth(1e-3, 0.05, 1e-4));
    expect(mixtureHalfWidth(0, 0.05, 1e-4)).toBe(0);
    expect(mixtureHalfWidth(1e-4, 0.01, 1e-4)).toBeGreaterThan(mixtureHalfWidth(1e-4, 0.05, 1e-4));
  });

  it("covers the true mean at all times with probability >= 1 - alpha while a fixed interval does not", () => {
    const rng = rngFor("cs-test", "1");
    const runs = 300;
    let csMiss = 0;
    let fixedMiss = 0;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      let missCs = false;
      let missFixed = false;
      for (let n = 1; n <= 1000; n++) {
        sum += normal(rng);
        if (n < 10) continue;
        const err = Math.abs(sum / n);
        if (err > mixtureHalfWidth(1 / n, 0.05, 1 / 200)) missCs = true;
        if (err > fixedHalfWidth95(1 / n)) missFixed = true;
      }
      if (missCs) csMiss++;
      if (missFixed) fixedMiss++;
    }
    expect(csMiss / runs).toBeLessThanOrEqual(0.05);
    expect(fixedMiss / runs).toBeGreaterThan(0.2); // peeking at a fixed interval inflates errors
  });
});
