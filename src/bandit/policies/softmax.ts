import { z } from "zod";
import { mixFloor } from "../distributions.js";
import { parseParams, positive, probability } from "../params.js";
import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { RegressionPolicy, regressionParams, type Scored } from "../regression-policy.js";

/**
 * Softmax / Boltzmann exploration (VW `--softmax --lambda`; Sutton & Barto 2018, §2.8 style):
 * p(a) ∝ exp(ŷ(a) / τ) over the unplaced candidates, computed with the max subtracted for stability,
 * then an optional floor.
 */
export class SoftmaxPolicy extends RegressionPolicy {
  private readonly temperature: number;
  private readonly floor: number;

  constructor(id: string, version: number, spec: PolicySpec) {
    const p = parseParams(schema, spec);
    super(id, "softmax", version, spec, p);
    this.temperature = p.temperature;
    this.floor = p.floor;
  }

  protected slotDistribution(s: Scored, mask: Uint8Array): Float64Array {
    const p = new Float64Array(s.n);
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < s.n; c++) if (mask[c] === 0 && s.mean[c]! > max) max = s.mean[c]!;
    let z = 0;
    for (let c = 0; c < s.n; c++) {
      if (mask[c] !== 0) continue;
      const e = Math.exp((s.mean[c]! - max) / this.temperature);
      p[c] = e;
      z += e;
    }
    if (z > 0) for (let c = 0; c < s.n; c++) p[c] = p[c]! / z;
    return mixFloor(p, mask, this.floor);
  }

  protected parameters(): Record<string, unknown> {
    return { ...this.regressionParameters(), temperature: this.temperature, floor: this.floor };
  }
}

const schema = z.strictObject({
  ...regressionParams,
  temperature: positive.default(0.05),
  floor: probability.default(0),
});

export const softmaxType: PolicyType = {
  description: "softmax (Boltzmann) on the reward model: p ∝ exp(ŷ/τ)",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new SoftmaxPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(softmaxType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(softmaxType, snapshot),
};
