import type { PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { ThompsonPolicy } from "./thompson.js";

/**
 * Thompson sampling for click (Bernoulli) rewards: logistic regression P(click) = σ(w·x) with a
 * diagonal Gaussian posterior kept by online Laplace approximation (Chapelle & Li 2011, "An Empirical
 * Evaluation of Thompson Sampling", Algorithm 3, in its online diagonal form; diagonal-gaussian.ts).
 * Rewards are clipped to [0, 1] (a fractional reward acts as a soft label). Samples are drawn in logit
 * space, where the argmax is the same as in probability space; pools and propensities as in thompson.ts.
 */
export class ThompsonLogisticPolicy extends ThompsonPolicy {
  constructor(id: string, version: number, spec: PolicySpec) {
    super(id, version, spec, "thompson-logistic");
  }
}

export const thompsonLogisticType: PolicyType = {
  description: "Thompson sampling, Bayesian logistic regression (online diagonal Laplace) for click rewards",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new ThompsonLogisticPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(thompsonLogisticType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(thompsonLogisticType, snapshot),
};
