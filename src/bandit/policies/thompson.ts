import { z } from "zod";
import { BasePolicy } from "../base-policy.js";
import { NoiseBank } from "../noise-bank.js";
import type { OrderedPool } from "../ordered-pool.js";
import { checkPoolBudget, parseFeatures, parseParams, poolParams, positive, probability } from "../params.js";
import type { PolicyFeedback, PolicyInput, PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { contextHash } from "../request-key.js";
import { type ModelState, modelParams, RewardModel } from "../reward-model.js";
import type { SlicedCopy } from "../sliced-snapshot.js";

/**
 * Contextual Thompson sampling with a Bayesian linear reward model (Agrawal & Goyal 2013, "Thompson
 * Sampling for Contextual Bandits with Linear Payoffs"; Chapelle & Li 2011). The posterior is the reward
 * model of reward-model.ts: `shared` (diagonal Gaussian over hashed ADF features) or `disjoint` (one
 * full-covariance Gaussian per candidate id), updated after every reward (rank-one Kalman /
 * Sherman–Morrison step, no refit). Exact propensities come from a pool of M posterior samples per
 * request (sample-pool.ts): the distribution is the share of samples each candidate wins, plus a floor.
 *
 * Pools are drawn from a frozen "serving" copy of the posterior that is refreshed every `refreshEvery`
 * updates (one epoch). A sample's candidate scores are drawn independently per candidate,
 * N(ŷ_c, v·x_c'Σx_c) (v = explorationScale): exact for the disjoint model (arms are independent); for the
 * shared model the part common to every candidate is left out and candidates are taken to share no hashed
 * slot. The standard-normal noise is drawn per (epoch, item) and kept (noise-bank.ts), so a request whose
 * context, candidate features or recommender scores were never seen costs one prediction and M·n
 * multiply-adds at most, and its distribution is a pure function of the snapshot and the request: a decision
 * replays exactly from its RNG seed. The pool computes only the scores an argmax needs (ordered-pool.ts: by
 * decreasing upper bound, stopping where no candidate left can win), with the same numbers as all M·n.
 */
export class ThompsonPolicy extends BasePolicy<OrderedPool> implements ThompsonInternals {
  protected readonly model: RewardModel;
  readonly noise: NoiseBank;
  protected readonly opts: ThompsonParams;
  epoch = 0;
  private sinceRefresh = 0;
  /** prepare()'s candidate ids and their item handles (item-handles.ts), reused across requests. */
  private readonly ids: string[] = [];
  private handles = new Int32Array(0);

  protected get likelihood(): "gaussian" | "logistic" {
    return this.type === "thompson-logistic" ? "logistic" : "gaussian";
  }

  constructor(id: string, version: number, spec: PolicySpec, type = "thompson") {
    super(id, type, version, spec);
    this.opts = parseParams(thompsonSchema, spec);
    this.model = new RewardModel({ ...this.opts, likelihood: this.likelihood, serving: true }, parseFeatures(spec));
    // One handle per item for the noise bank and the model's serving arena: a candidate id is looked up once.
    this.noise = new NoiseBank(this.opts.poolSize, undefined, this.model.items);
  }

  protected prepare(input: PolicyInput): OrderedPool {
    const n = input.candidates.length;
    const ids = this.ids;
    ids.length = n;
    for (let c = 0; c < n; c++) ids[c] = input.candidates[c]!.id;
    if (this.handles.length < n) this.handles = new Int32Array(2 * n);
    const handles = this.model.items.resolve(ids, n, this.handles);
    // Everything the draw depends on enters here: context, used profile, candidate features and scores.
    const { mean, variance: sd } = this.model.predictReused(input, true, true, handles);
    const scale = this.opts.explorationScale;
    for (let c = 0; c < n; c++) sd[c] = scale * Math.sqrt(clampVariance(sd[c]!));
    const ctx = contextHash(input.context, this.model.usedProfile(input.profile));
    return this.noise.entry(ids, ctx, this.epoch, this.id, mean, sd, handles);
  }

  protected slotDistribution(entry: OrderedPool, mask: Uint8Array, out?: Float64Array): Float64Array {
    return entry.distribution(mask, this.opts.floor, out);
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

  protected override stateInSlices(): SlicedCopy<unknown> {
    const model = this.model.snapshotInSlices();
    const { epoch, sinceRefresh } = this;
    return { step: (max) => model.step(max), result: () => ({ model: model.result(), epoch, sinceRefresh }) };
  }

  restoreState(state: unknown): void {
    this.restoreStateInSlices(state).result();
  }

  restoreStateInSlices(state: unknown): SlicedCopy<void> {
    const s = state as { model: ModelState; epoch: number; sinceRefresh: number };
    const model = this.model.restoreInSlices(s.model);
    return {
      step: (max) => model.step(max),
      result: () => {
        model.result();
        this.epoch = s.epoch;
        this.sinceRefresh = s.sinceRefresh;
        this.noise.clear();
      },
    };
  }

  protected parameters(): Record<string, unknown> {
    return {
      ...this.opts,
      ...this.model.describe(),
      epoch: this.epoch,
      noiseRowsDrawn: this.noise.rowsDrawn,
      noiseRowsFilled: this.noise.rowsFilled,
      noiseRowsCached: this.noise.cached,
    };
  }
}

/** What the bench needs to measure pool costs. */
export interface ThompsonInternals {
  readonly noise: NoiseBank;
  refresh(): void;
}

export const thompsonSchema = z
  .strictObject({
    ...modelParams,
    // poolSize (M, the propensity resolution 1/M) and refreshEvery. cacheSize (pools were cached per context
    // before noise-bank.ts) and topK (per-sample top lists before ordered-pool.ts) are no longer read and stay
    // accepted, within their limits, so stored specs load.
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
  restoreInSlices: (snapshot) => restoreWithInSlices(thompsonType, snapshot),
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
