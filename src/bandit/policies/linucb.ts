import { z } from "zod";
import { argmax, mixFloor, pointMass } from "../distributions.js";
import { parseParams, positive, probability } from "../params.js";
import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { RegressionPolicy, regressionParams, type Scored } from "../regression-policy.js";

/**
 * LinUCB (Li, Chu, Langford & Schapire 2010), ADF-shared form: one linear model over hashed shared,
 * action and shared×action features; serve argmax_a ŷ(a) + α·sqrt(x_a' Σ x_a), with Σ the posterior
 * covariance in its diagonal approximation (diagonal-gaussian.ts). The disjoint variant (one model per
 * arm) is the same model with `features.id = true` and interactions on: per-item × context weights.
 * Deterministic; `floor` mixes in uniform exploration so logged data keeps support.
 */
export class LinUcbPolicy extends RegressionPolicy {
  private readonly alpha: number;
  private readonly floor: number;

  constructor(id: string, version: number, spec: PolicySpec) {
    const p = parseParams(schema, spec);
    super(id, "linucb", version, spec, p);
    this.alpha = p.alpha;
    this.floor = p.floor;
    this.needsVariance = true;
  }

  protected slotDistribution(s: Scored, mask: Uint8Array): Float64Array {
    const ucb = new Float64Array(s.n);
    for (let c = 0; c < s.n; c++) ucb[c] = s.mean[c]! + this.alpha * Math.sqrt(Math.max(s.variance![c]!, 0) || 0);
    return mixFloor(pointMass(s.n, argmax(ucb, mask)), mask, this.floor);
  }

  protected parameters(): Record<string, unknown> {
    return { ...this.regressionParameters(), alpha: this.alpha, floor: this.floor };
  }
}

const schema = z.strictObject({
  ...regressionParams,
  alpha: positive.default(0.5),
  floor: probability.default(0.01),
});

export const linUcbType: PolicyType = {
  description: "LinUCB, ADF-shared (diagonal covariance), with a uniform floor",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new LinUcbPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(linUcbType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(linUcbType, snapshot),
};
