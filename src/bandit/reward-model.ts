import { z } from "zod";
import { DiagonalGaussian, type DiagonalGaussianState } from "./diagonal-gaussian.js";
import { DisjointGaussian, type DisjointState } from "./disjoint-gaussian.js";
import { type EncoderOptions, FeatureEncoder } from "./encoder.js";
import { positive } from "./params.js";
import type { PolicyInput } from "./policy.js";

/**
 * The reward model behind the model-based policies, in two structures:
 * - `shared` (default for large catalogs): one diagonal Gaussian over hashed shared, action and
 *   shared×action features (VW ADF); O(nnz) per prediction and update, any number of items.
 * - `disjoint`: one full-covariance Gaussian per candidate id over shared + action features hashed into
 *   `armDims` slots; calibrated uncertainty, O(armDims²) per update; for small action sets.
 * Both give, per candidate, the predictive mean and variance of its own score (the part shared by all
 * candidates is left out of the shared model: it never changes a distribution).
 */
export const modelParams = {
  model: z.enum(["shared", "disjoint"]).default("shared"),
  /** Prior variance of each weight. */
  priorVariance: positive.default(1),
  /** Observation noise variance σ² of the reward (0/1 rewards: ≤ 0.25). */
  noiseVariance: positive.default(0.25),
  /** Disjoint model: hashed slots per arm (power of two). */
  armDims: z
    .number()
    .int()
    .min(2)
    .max(1024)
    .refine((d) => (d & (d - 1)) === 0, { message: "must be a power of two" })
    .default(64),
  /** Disjoint model: arms kept (least recently updated evicted). */
  maxArms: z.number().int().min(1).default(10_000),
};

export interface ModelOptions {
  model: "shared" | "disjoint";
  priorVariance: number;
  noiseVariance: number;
  armDims: number;
  maxArms: number;
  likelihood: "gaussian" | "logistic";
  /** Keep a serving copy refreshed by syncServing() (Thompson pools). */
  serving: boolean;
}

export interface Predictions {
  n: number;
  mean: Float64Array;
  variance: Float64Array;
}

export class RewardModel {
  private readonly encoder: FeatureEncoder;
  private readonly opts: ModelOptions;
  private diagonal: DiagonalGaussian | undefined;
  private disjoint: DisjointGaussian | undefined;

  constructor(opts: ModelOptions, features: EncoderOptions) {
    this.opts = opts;
    if (opts.model === "disjoint") {
      // The arm is the interaction: per-arm weights on the context, no hashed cross features needed.
      this.encoder = new FeatureEncoder({ ...features, dims: opts.armDims, interactions: false, id: false });
      this.disjoint = new DisjointGaussian(opts.armDims, opts.priorVariance, opts.maxArms, opts.serving);
    } else {
      this.encoder = new FeatureEncoder(features);
      this.diagonal = new DiagonalGaussian(features.dims, opts.priorVariance, opts.serving);
    }
  }

  /** Per-candidate predictive mean (and variance when asked) from the learner or the serving copy. */
  predict(input: PolicyInput, serving: boolean, withVariance: boolean): Predictions {
    const n = input.candidates.length;
    const mean = new Float64Array(n);
    const variance = new Float64Array(n);
    if (this.disjoint) {
      const enc = this.encoder.encode(input);
      const ids = input.candidates.map((c) => c.id);
      this.disjoint.predict(enc, ids, serving, mean, variance, withVariance);
    } else if (this.diagonal) {
      // Fused encode + sums (encoder.dots): the same numbers as candidateMeans/candidateVariances on
      // encode()'s output, without materializing |actions| × |shared| interaction entries per candidate.
      const [mu, vr] = this.diagonal.weights(serving);
      if (withVariance) this.encoder.dots(input, mu, mean, vr, variance);
      else this.encoder.dots(input, mu, mean);
    }
    return { n, mean, variance };
  }

  update(input: PolicyInput, index: number, reward: number, weight: number): void {
    const cand = input.candidates[index]!;
    const enc = this.encoder.encode({ context: input.context, candidates: [cand] });
    const { likelihood, noiseVariance } = this.opts;
    if (this.disjoint) {
      this.disjoint.update(enc, cand.id, reward, likelihood, noiseVariance, weight);
    } else if (this.diagonal) {
      if (likelihood === "gaussian") this.diagonal.updateLinear(enc, 0, reward, noiseVariance, weight);
      else this.diagonal.updateLogistic(enc, 0, reward, weight);
    }
  }

  syncServing(): void {
    this.diagonal?.syncServing();
    this.disjoint?.syncServing();
  }

  snapshot(): ModelState {
    return this.disjoint ? { disjoint: this.disjoint.snapshot() } : { diagonal: this.diagonal!.snapshot() };
  }

  restore(state: ModelState): void {
    if (state.disjoint) this.disjoint = DisjointGaussian.restore(state.disjoint, this.opts.maxArms, this.opts.serving);
    if (state.diagonal) this.diagonal = DiagonalGaussian.restore(state.diagonal);
  }

  describe(): Record<string, unknown> {
    return this.disjoint ? { arms: this.disjoint.armCount } : { dims: this.diagonal!.dims };
  }
}

export interface ModelState {
  diagonal?: DiagonalGaussianState;
  disjoint?: DisjointState;
}
