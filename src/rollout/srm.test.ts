import { describe, expect, it } from "vitest";
import { rngFor } from "../core/rng.js";
import { erfc, logGamma, sequentialSrmPValue, srmCheck } from "./srm.js";
import { binomial } from "./traffic-sim.js";

describe("SRM check", () => {
  it("computes erfc, ln Gamma and the chi-square p-value", () => {
    expect(erfc(0)).toBeCloseTo(1, 6);
    expect(erfc(1)).toBeCloseTo(0.157299207, 6);
    expect(erfc(-1)).toBeCloseTo(1.842700793, 6);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
    expect(logGamma(1e5)).toBeCloseTo(1e5 * Math.log(1e5) - 1e5 - 0.5 * Math.log(1e5) + 0.5 * Math.log(2 * Math.PI), 4);
    // 5100 vs 4900 at 50/50: chi2 = 4, p = 0.0455
    const r = srmCheck(5100, 4900, 0.5);
    expect(r?.chiSquare).toBeCloseTo(4, 10);
    expect(r?.pValue).toBeCloseTo(0.0455, 4);
    expect(srmCheck(0, 0, 0.5)).toBeUndefined();
    expect(srmCheck(10, 0, 1)).toBeUndefined();
  });

  it("the sequential p-value is large under the plan and tiny for a broken split", () => {
    expect(sequentialSrmPValue(1000, 99000, 0.01)).toBe(1);
    expect(sequentialSrmPValue(700, 99300, 0.01)).toBeLessThan(1e-6);
    expect(sequentialSrmPValue(5000, 5000, 0.5)).toBe(1);
    expect(sequentialSrmPValue(4700, 5300, 0.5)).toBeLessThan(0.001);
  });

  it("looked at after every batch, the sequential test rarely fires under the plan (Ville)", () => {
    const rng = rngFor("srm-test", "x");
    let alarms = 0;
    for (let run = 0; run < 200; run++) {
      let a = 0;
      let n = 0;
      for (let look = 0; look < 300; look++) {
        const batch = 200;
        a += binomial(rng, batch, 0.1);
        n += batch;
        if (sequentialSrmPValue(a, n - a, 0.1) < 0.01) {
          alarms++;
          break;
        }
      }
    }
    expect(alarms / 200).toBeLessThanOrEqual(0.02);
  });
});
