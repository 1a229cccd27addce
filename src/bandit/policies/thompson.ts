import { z } from "zod";
import type { Rng } from "../../core/rng.js";
import { BasePolicy } from "../base-policy.js";
import { fastNormals } from "../fast-normal.js";
import { checkPoolBudget, parseFeatures, parseParams, poolParams, positive, probability } from "../params.js";
import type { PolicyFeedback, PolicyInput, PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith } from "../policy-type.js";
import { requestKey } from "../request-key.js";
import { type ModelState, modelParams, RewardModel } from "../reward-model.js";
import { type PoolEntry, SamplePool } from "../sample-pool.js";

/**
 * Contextual Thompson sampling with a Bayesian linear reward model (Agrawal & Goyal 2013, "Thompson
 * Sampling for Contextual Bandits with Linear Payoffs"; Chapelle & Li 2011). The posterior is the reward
 * model of reward-model.ts: `shared` (diagonal Gaussian over hashed ADF features) or `disjoint` (one
 * full-covariance Gaussian per candidate id), updated after every reward (rank-one Kalman /
 * Sherman–Morrison step, no refit). Exact propensities come from a pool of M posterior samples per
 * context (sample-pool.ts): the distribution is the share of samples each candidate wins, plus a floor.
 *
 * Pools are drawn from a frozen "serving" copy of the posterior that is refreshed every `refreshEvery`
 * updates (one epoch); the pool seed is (policy id, epoch, context key), so a distribution is a pure
 * function of the snapshot and a decision replays exactly from its RNG seed. A sample's candidate scores
 * are drawn independently per candidate, N(ŷ_c, v·x_c'Σx_c) (v = explorationScale): exact for the
 * disjoint model (arms are independent); for the shared model the part common to every candidate is left
 * out and candidates are taken to share no hashed slot.
 *
 * The context key is (context features, candidate ids, candidate scores): candidate features are taken
 * to be attributes of the item, fixed within an epoch.
 */
export class ThompsonPolicy extends BasePolicy<PoolEntry> implements ThompsonInternals {
  protected readonly model: RewardModel;
  readonly pool: SamplePool;
  protected readonly opts: ThompsonParams;
  epoch = 0;
  private sinceRefresh = 0;

  protected get likelihood(): "gaussian" | "logistic" {
    return this.type === "thompson-logistic" ? "logistic" : "gaussian";
  }

  constructor(id: string, version: number, spec: PolicySpec, type = "thompson") {
    super(id, type, version, spec);
    this.opts = parseParams(thompsonSchema, spec);
    this.model = new RewardModel({ ...this.opts, likelihood: this.likelihood, serving: true }, parseFeatures(spec));
    this.pool = new SamplePool({ size: this.opts.poolSize, topK: this.opts.topK, cacheSize: this.opts.cacheSize });
  }

  protected prepare(input: PolicyInput): PoolEntry {
    const n = input.candidates.length;
    // The key covers only the profile features the model reads: a policy that ignores the profile shares
    // one pool across users with the same request (the precomputed samples for common contexts).
    const key = requestKey(input.context, input.candidates, true, this.model.usedProfile(input.profile));
    return this.pool.get(key, this.epoch, this.id, n, (rng, scores, size) => {
      const { mean, variance: sd } = this.model.predict(input, true, true);
      const scale = this.opts.explorationScale;
      for (let c = 0; c < n; c++) sd[c] = scale * Math.sqrt(clampVariance(sd[c]!));
      sampleGaussianScores(rng, mean, sd, scores, size);
    });
  }

  protected slotDistribution(entry: PoolEntry, mask: Uint8Array): Float64Array {
    return entry.distribution(mask, this.opts.floor);
  }

  protected learn(feedback: PolicyFeedback): void {
    const { likelihood } = this;
    const reward = likelihood === "logistic" ? Math.min(1, Math.max(0, feedback.reward)) : feedback.reward;
    this.model.update(feedback.input, feedback.index, reward, 1);
    if (++this.sinceRefresh >= this.opts.refreshEvery) this.refresh();
  }

  /** Start a new epoch: the serving posterior catches up with the learner and every pool goes stale. */
  refresh(): void {
    this.model.syncServing();
    this.sinceRefresh = 0;
    this.epoch++;
  }

  protected state(): unknown {
    return { model: this.model.snapshot(), epoch: this.epoch, sinceRefresh: this.sinceRefresh };
  }

  restoreState(state: unknown): void {
    const s = state as { model: ModelState; epoch: number; sinceRefresh: number };
    this.model.restore(s.model);
    this.epoch = s.epoch;
    this.sinceRefresh = s.sinceRefresh;
    this.pool.clear();
  }

  protected parameters(): Record<string, unknown> {
    return {
      ...this.opts,
      ...this.model.describe(),
      epoch: this.epoch,
      poolsBuilt: this.pool.builds,
      poolsCached: this.pool.cached,
    };
  }
}

/** What the bench needs to measure pool costs. */
export interface ThompsonInternals {
  readonly pool: SamplePool;
  refresh(): void;
}

/** Reused buffer of standard normals for sampleGaussianScores (grown on demand, never shrunk). */
let normals = new Float64Array(0);

/** Rows of `size` samples: scores[m·n + c] = mean[c] + sd[c]·z, z ~ N(0, 1) (fast-normal.ts). */
export function sampleGaussianScores(
  rng: Rng,
  mean: Float64Array,
  sd: Float64Array,
  scores: Float32Array,
  size: number,
): void {
  const n = mean.length;
  const total = size * n;
  if (normals.length < total) normals = new Float64Array(total);
  const z = normals;
  fastNormals(rng, z, total);
  let j = 0;
  for (let m = 0; m < size; m++) {
    for (let c = 0; c < n; c++, j++) scores[j] = mean[c]! + sd[c]! * z[j]!;
  }
}

export const thompsonSchema = z
  .strictObject({
    ...modelParams,
    ...poolParams,
    /** Uniform floor mixed into the pool distribution. */
    floor: probability.default(0.01),
    /** Scale v of the posterior standard deviation (Agrawal & Goyal's v): < 1 explores less. */
    explorationScale: positive.default(1),
  })
  .superRefine(checkPoolBudget);

export type ThompsonParams = z.infer<typeof thompsonSchema>;

export const thompsonType: PolicyType = {
  description: "Thompson sampling, Bayesian linear regression on ADF features, exact pool propensities",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new ThompsonPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(thompsonType, snapshot),
};

/**
 * The smallest predictive variance sampled with: rank-one downdates can round a variance to a tiny negative
 * number (or NaN after 0·∞), and √ of that would make every score NaN (issue 14, defect 10).
 */
export const MIN_PREDICTIVE_VARIANCE = 1e-12;

export function clampVariance(v: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math.max(NaN, x) is NaN; the comparison maps NaN to the floor.
  return v > MIN_PREDICTIVE_VARIANCE ? v : MIN_PREDICTIVE_VARIANCE;
}
