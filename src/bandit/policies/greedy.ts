import { z } from "zod";
import { argmax, mixFloor, pointMass } from "../distributions.js";
import { parseParams, probability } from "../params.js";
import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { RegressionPolicy, regressionParams, type Scored } from "../regression-policy.js";

/**
 * Exploit only: the candidate with the highest predicted reward (ties to the lowest index), with an
 * optional floor (default 0: deterministic, so off-policy estimates of other policies have no support).
 */
export class GreedyPolicy extends RegressionPolicy {
  private readonly floor: number;

  constructor(id: string, version: number, spec: PolicySpec) {
    const p = parseParams(schema, spec);
    super(id, "greedy", version, spec, p);
    this.floor = p.floor;
  }

  protected slotDistribution(s: Scored, mask: Uint8Array): Float64Array {
    return mixFloor(pointMass(s.n, argmax(s.mean, mask)), mask, this.floor);
  }

  protected parameters(): Record<string, unknown> {
    return { ...this.regressionParameters(), floor: this.floor };
  }
}

const schema = z.strictObject({ ...regressionParams, floor: probability.default(0) });

export const greedyType: PolicyType = {
  description: "exploit only: argmax of the reward model (optional floor)",
  explores: false,
  create: (id: string, spec: PolicySpec, version: number) => new GreedyPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(greedyType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(greedyType, snapshot),
};
