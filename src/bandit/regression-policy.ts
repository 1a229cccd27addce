import { z } from "zod";
import { BasePolicy } from "./base-policy.js";
import { parseFeatures, positive } from "./params.js";
import type { PolicyFeedback, PolicyInput, PolicySpec } from "./policy.js";
import { type ModelState, modelParams, RewardModel } from "./reward-model.js";
import type { SlicedCopy } from "./sliced-snapshot.js";

/** Per-request scores of a regression policy: predicted reward (candidate part) and its variance. */
export interface Scored {
  n: number;
  mean: Float64Array;
  variance: Float64Array;
}

/** Parameters shared by every regression-based policy. */
export const regressionParams = {
  ...modelParams,
  /** Weight each update by 1/propensity (importance-weighted regression, VW's `mtr`), capped. */
  importanceWeighted: z.boolean().default(false),
  maxImportanceWeight: positive.default(100),
};

export interface RegressionOptions {
  model: "shared" | "disjoint" | "hybrid";
  armPriorVariance?: number | undefined;
  priorVariance: number;
  noiseVariance: number;
  armDims: number;
  maxArms: number;
  importanceWeighted: boolean;
  maxImportanceWeight: number;
}

/**
 * Policies that act on a learned reward model ŷ(x, a) (greedy, ε-greedy, softmax, SquareCB, LinUCB):
 * VW's `cb_explore_adf` family, with the regressor being the Gaussian reward model of reward-model.ts
 * (online least squares, rank-one updates). Predictions omit the shared part of the features, which adds
 * the same amount to every candidate and so never changes a distribution that depends on differences.
 */
export abstract class RegressionPolicy extends BasePolicy<Scored> {
  protected readonly model: RewardModel;
  protected readonly reg: RegressionOptions;
  /** Whether prepare() must compute predictive variances (LinUCB). */
  protected needsVariance = false;

  constructor(id: string, type: string, version: number, spec: PolicySpec, reg: RegressionOptions) {
    super(id, type, version, spec);
    this.reg = {
      model: reg.model,
      priorVariance: reg.priorVariance,
      noiseVariance: reg.noiseVariance,
      armDims: reg.armDims,
      maxArms: reg.maxArms,
      importanceWeighted: reg.importanceWeighted,
      maxImportanceWeight: reg.maxImportanceWeight,
    };
    this.model = new RewardModel({ ...this.reg, likelihood: "gaussian", serving: false }, parseFeatures(spec));
  }

  protected prepare(input: PolicyInput): Scored {
    return this.model.predict(input, false, this.needsVariance);
  }

  protected learn(feedback: PolicyFeedback): void {
    let weight = 1;
    if (this.reg.importanceWeighted && feedback.propensity > 0) {
      weight = Math.min(1 / feedback.propensity, this.reg.maxImportanceWeight);
    }
    this.model.update(feedback.input, feedback.index, feedback.reward, weight);
  }

  protected state(): unknown {
    return { model: this.model.snapshot() };
  }

  protected override stateInSlices(): SlicedCopy<unknown> {
    const model = this.model.snapshotInSlices();
    return { step: (max) => model.step(max), result: () => ({ model: model.result() }) };
  }

  restoreState(state: unknown): void {
    this.model.restore((state as { model: ModelState }).model);
  }

  restoreStateInSlices(state: unknown): SlicedCopy<void> {
    return this.model.restoreInSlices((state as { model: ModelState }).model);
  }

  protected regressionParameters(): Record<string, unknown> {
    return { ...this.reg, ...this.model.describe() };
  }
}
