import { z } from "zod";
import { argmax } from "../distributions.js";
import { parseParams, positive } from "../params.js";
import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { RegressionPolicy, regressionParams, type Scored } from "../regression-policy.js";

/**
 * SquareCB inverse-gap weighting (Foster & Rakhlin 2020, "Beyond UCB", Algorithm 1; Abe & Long 1999):
 * with b the best predicted candidate among the k unplaced and γ the learning rate,
 *   p(a) = 1 / (k + γ (ŷ(b) − ŷ(a)))  for a ≠ b,   p(b) = 1 − Σ_{a≠b} p(a).
 * γ grows with the number of updates t as VW does: γ = gammaScale · (t + 1)^gammaExponent.
 */
export class SquareCbPolicy extends RegressionPolicy {
  private readonly gammaScale: number;
  private readonly gammaExponent: number;

  constructor(id: string, version: number, spec: PolicySpec) {
    const p = parseParams(schema, spec);
    super(id, "squarecb", version, spec, p);
    this.gammaScale = p.gammaScale;
    this.gammaExponent = p.gammaExponent;
  }

  protected slotDistribution(s: Scored, mask: Uint8Array): Float64Array {
    const p = new Float64Array(s.n);
    const best = argmax(s.mean, mask);
    if (best < 0) return p;
    let k = 0;
    for (let c = 0; c < s.n; c++) if (mask[c] === 0) k++;
    const gamma = this.gammaScale * (this.updates + 1) ** this.gammaExponent;
    const top = s.mean[best]!;
    let rest = 0;
    for (let c = 0; c < s.n; c++) {
      if (mask[c] !== 0 || c === best) continue;
      p[c] = 1 / (k + gamma * (top - s.mean[c]!));
      rest += p[c]!;
    }
    p[best] = 1 - rest;
    return p;
  }

  protected parameters(): Record<string, unknown> {
    return {
      ...this.regressionParameters(),
      gammaScale: this.gammaScale,
      gammaExponent: this.gammaExponent,
      gamma: this.gammaScale * (this.updates + 1) ** this.gammaExponent,
    };
  }
}

const schema = z.strictObject({
  ...regressionParams,
  gammaScale: positive.default(10),
  gammaExponent: z.number().min(0).max(1).default(0.5),
});

export const squareCbType: PolicyType = {
  description: "SquareCB inverse-gap weighting (Foster & Rakhlin 2020)",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new SquareCbPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(squareCbType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(squareCbType, snapshot),
};
