import { z } from "zod";
import { argmax, mixFloor, pointMass } from "../distributions.js";
import { parseParams, probability } from "../params.js";
import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { RegressionPolicy, regressionParams, type Scored } from "../regression-policy.js";

/**
 * ε-greedy (VW `--epsilon`): the greedy candidate with probability 1 − ε, uniform over the unplaced
 * candidates with probability ε, so p(greedy) = 1 − ε + ε/k and p(other) = ε/k.
 */
export class EpsilonGreedyPolicy extends RegressionPolicy {
  private readonly epsilon: number;

  constructor(id: string, version: number, spec: PolicySpec) {
    const p = parseParams(schema, spec);
    super(id, "epsilon-greedy", version, spec, p);
    this.epsilon = p.epsilon;
  }

  protected slotDistribution(s: Scored, mask: Uint8Array): Float64Array {
    return mixFloor(pointMass(s.n, argmax(s.mean, mask)), mask, this.epsilon);
  }

  protected parameters(): Record<string, unknown> {
    return { ...this.regressionParameters(), epsilon: this.epsilon };
  }
}

const schema = z.strictObject({ ...regressionParams, epsilon: probability.default(0.05) });

export const epsilonGreedyType: PolicyType = {
  description: "ε-greedy on the reward model (ε = 0.05 by default)",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new EpsilonGreedyPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(epsilonGreedyType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(epsilonGreedyType, snapshot),
};
