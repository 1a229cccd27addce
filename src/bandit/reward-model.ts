import { z } from "zod";
import { LoopwiseError } from "../core/errors.js";
import type { FeatureMap } from "../core/types.js";
import { DiagonalGaussian, type DiagonalGaussianState } from "./diagonal-gaussian.js";
import { DisjointGaussian, type DisjointState } from "./disjoint-gaussian.js";
import { type EncoderOptions, FeatureEncoder } from "./encoder.js";
import { InteractionSums } from "./interaction-sums.js";
import { ItemHandles } from "./item-handles.js";
import { positive, SPEC_LIMITS } from "./params.js";
import type { PolicyInput } from "./policy.js";
import type { SlicedCopy } from "./sliced-snapshot.js";

/**
 * The reward model behind the model-based policies, in three structures:
 * - `shared` (default for large catalogs): one diagonal Gaussian over hashed shared, action and
 *   shared×action features (VW ADF); O(nnz) per prediction and update, any number of items.
 * - `disjoint`: one full-covariance Gaussian per candidate id over shared + action features hashed into
 *   `armDims` slots; calibrated uncertainty, O(armDims²) per update; for small action sets.
 * - `hybrid`: both, added: r = w_sᵀx_sa + w_aᵀx_a (Li, Chu, Langford & Schapire 2010, "A Contextual-Bandit
 *   Approach to Personalized News Article Recommendation", §3.2, LinUCB with hybrid linear models). The
 *   shared part generalizes across items (category × context), each item's own part corrects it. The
 *   posterior is kept factorized (shared ⟂ arms; assumed density filtering): an observation y updates each
 *   part with the other's predictive N(m, v) as extra noise, y − m_other ~ N(a_part, σ² + v_other), which
 *   is the exact marginal update of each part under the factorized prior. Gaussian likelihood only.
 * Both give, per candidate, the predictive mean and variance of its own score (the part shared by all
 * candidates is left out of the shared model: it never changes a distribution).
 */
export const modelParams = {
  model: z.enum(["shared", "disjoint", "hybrid"]).default("shared"),
  /** Prior variance of each weight (hybrid: of the shared part's weights). */
  priorVariance: positive.default(1),
  /** Hybrid: prior variance of each per-item weight (default: priorVariance). */
  armPriorVariance: positive.optional(),
  /** Observation noise variance σ² of the reward (0/1 rewards: ≤ 0.25). */
  noiseVariance: positive.default(0.25),
  /** Disjoint model: hashed slots per arm (power of two). */
  armDims: z
    .number()
    .int()
    .min(2)
    .max(SPEC_LIMITS.armDims)
    .refine((d) => (d & (d - 1)) === 0, { message: "must be a power of two" })
    .default(64),
  /**
   * Hybrid: what the per-item part sees. `context` (default): the shared features and the per-request
   * score, not the item's own features, which are constant per item (a per-item model can only fold them
   * into its intercept, with a prior widened by their scale) and are the shared part's to generalize;
   * `all`: the item's features too (as before this parameter existed).
   */
  armFeatures: z.enum(["context", "all"]).default("context"),
  /** Disjoint model: arms kept (least recently updated evicted). */
  maxArms: z.number().int().min(1).max(SPEC_LIMITS.maxArms).default(10_000),
};

export interface ModelOptions {
  model: "shared" | "disjoint" | "hybrid";
  priorVariance: number;
  armPriorVariance?: number | undefined;
  noiseVariance: number;
  armDims: number;
  armFeatures?: "context" | "all" | undefined;
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
  /** The shared (diagonal) model's encoder. */
  private readonly encoder: FeatureEncoder;
  /** The per-arm (disjoint) model's encoder: `armDims` slots, no interactions, no id. */
  private readonly armEncoder: FeatureEncoder;
  private readonly opts: ModelOptions;
  private diagonal: DiagonalGaussian | undefined;
  private disjoint: DisjointGaussian | undefined;
  /** The serving shared model's per-block interaction sums (interaction-sums.ts), valid until the next sync. */
  private readonly servingSums = new InteractionSums();
  /** predictReused()'s outputs, and the hybrid's arm part, reused across requests (grown to the largest n seen). */
  private scratch = new Float64Array(0);
  private armScratch = new Float64Array(0);
  private readonly ids: string[] = [];
  /**
   * Item handles (item-handles.ts): the serving arena of the disjoint part is read by them; a Thompson policy
   * resolves its candidates once per request and hands them to predictReused() and to its noise bank.
   */
  readonly items = new ItemHandles();

  constructor(opts: ModelOptions, features: EncoderOptions) {
    this.opts = opts;
    if (opts.model === "hybrid" && opts.likelihood !== "gaussian") {
      throw new LoopwiseError("VALIDATION_FAILED", "the hybrid model has a Gaussian likelihood only", [
        { path: "params.model", message: "use shared or disjoint with a logistic likelihood" },
      ]);
    }
    checkArmBudget(opts);
    // The arm is the interaction: per-arm weights on the context, no hashed cross features needed.
    const armFeatures = opts.model !== "hybrid" || opts.armFeatures === "all";
    this.armEncoder = new FeatureEncoder({
      ...features,
      dims: opts.armDims,
      interactions: false,
      id: false,
      actionFeatures: armFeatures,
    });
    this.encoder = opts.model === "disjoint" ? this.armEncoder : new FeatureEncoder(features);
    if (opts.model !== "shared") {
      const prior = opts.model === "hybrid" ? (opts.armPriorVariance ?? opts.priorVariance) : opts.priorVariance;
      this.disjoint = new DisjointGaussian(opts.armDims, prior, opts.maxArms, opts.serving, this.items);
    }
    if (opts.model !== "disjoint")
      this.diagonal = new DiagonalGaussian(features.dims, opts.priorVariance, opts.serving);
  }

  /** Per-candidate predictive mean (and variance when asked; zeros otherwise) from the learner or the serving copy. */
  predict(input: PolicyInput, serving: boolean, withVariance: boolean): Predictions {
    const n = input.candidates.length;
    return this.predictInto(input, serving, withVariance, new Float64Array(n), new Float64Array(n));
  }

  /**
   * predict() into buffers reused across calls: the arrays are valid until the next predictReused() (the
   * Thompson pool reads them within one rank), so a rank allocates no arrays sized by its candidates.
   */
  predictReused(input: PolicyInput, serving: boolean, withVariance: boolean, handles?: Int32Array): Predictions {
    const n = input.candidates.length;
    if (this.scratch.length < 2 * n) this.scratch = new Float64Array(4 * n);
    const variance = this.scratch.subarray(n, 2 * n);
    if (!withVariance) variance.fill(0);
    return this.predictInto(input, serving, withVariance, this.scratch.subarray(0, n), variance, handles);
  }

  private predictInto(
    input: PolicyInput,
    serving: boolean,
    withVariance: boolean,
    mean: Float64Array,
    variance: Float64Array,
    handles?: Int32Array,
  ): Predictions {
    const n = input.candidates.length;
    if (this.diagonal) {
      // Fused encode + sums (encoder.dots): the same numbers as candidateMeans/candidateVariances on
      // encode()'s output, without materializing |actions| × |shared| interaction entries per candidate.
      const [mu, vr] = this.diagonal.weights(serving);
      // The serving copy moves only at syncServing(), so its per-block interaction sums are cached until then.
      const pairs = serving && withVariance ? this.diagonal.servingPairs() : undefined;
      if (pairs && this.encoder.options.interactions)
        this.encoder.dotsServing(input, pairs, mean, variance, this.servingSums);
      else if (withVariance) this.encoder.dots(input, mu, mean, vr, variance);
      else this.encoder.dots(input, mu, mean);
    }
    if (this.disjoint) {
      const enc = this.armEncoder.encode(input);
      const ids = this.ids;
      ids.length = n;
      for (let c = 0; c < n; c++) ids[c] = input.candidates[c]!.id;
      if (!this.diagonal) {
        this.disjoint.predict(enc, ids, serving, mean, variance, withVariance, handles);
      } else {
        // Hybrid: the parts are independent, so means and variances add.
        if (this.armScratch.length < 2 * n) this.armScratch = new Float64Array(4 * n);
        const m = this.armScratch.subarray(0, n);
        const v = this.armScratch.subarray(n, 2 * n);
        this.disjoint.predict(enc, ids, serving, m, v, withVariance, handles);
        for (let c = 0; c < n; c++) {
          mean[c] = mean[c]! + m[c]!;
          variance[c] = variance[c]! + v[c]!;
        }
      }
    }
    return { n, mean, variance };
  }

  update(input: PolicyInput, index: number, reward: number, weight: number): void {
    const id = input.candidates[index]!.id;
    const { likelihood, noiseVariance } = this.opts;
    // encodeAt: the candidate alone, as encode({ context, profile, candidates: [it] }) would give.
    if (this.diagonal && this.disjoint) {
      this.updateHybrid(input, index, id, reward, weight);
    } else if (this.disjoint) {
      this.disjoint.update(this.armEncoder.encodeAt(input, index), id, reward, likelihood, noiseVariance, weight);
    } else if (this.diagonal) {
      const enc = this.encoder.encodeAt(input, index);
      if (likelihood === "gaussian") this.diagonal.updateLinear(enc, 0, reward, noiseVariance, weight);
      else this.diagonal.updateLogistic(enc, 0, reward, weight);
    }
  }

  /**
   * Each part's exact marginal update with the other part's predictive (taken before either update) as noise.
   * The arm's predictive comes from the first half of its own update (beginUpdate: μᵀx and xᵀΣx with u = Σx
   * kept), so the arm's posterior is read once.
   */
  private updateHybrid(input: PolicyInput, index: number, id: string, y: number, weight: number): void {
    const diagonal = this.diagonal!;
    const disjoint = this.disjoint!;
    const noise = this.opts.noiseVariance;
    const encS = this.encoder.encodeAt(input, index);
    const prior = diagonal.moments(encS, 0);
    const [ms, vs] = prior;
    disjoint.beginUpdate(this.armEncoder.encodeAt(input, index), id);
    const mArm = disjoint.stepMean;
    const vArm = Math.max(disjoint.stepVariance, 0);
    // The effective noise is divided by the weight inside the updates; the other part's variance is not.
    diagonal.updateLinear(encS, 0, y - mArm, noise + vArm * weight, weight, prior);
    disjoint.finishUpdate(y - ms, "gaussian", noise + vs * weight, weight);
  }

  /** The part of a profile the model reads (undefined when none), see FeatureEncoder.usedProfile. */
  usedProfile(profile: FeatureMap | undefined): FeatureMap | undefined {
    return this.encoder.usedProfile(profile);
  }

  syncServing(): void {
    // The serving sums of blocks that read none of the slots this sync moves stay valid (interaction-sums.ts).
    const changed = this.diagonal?.servingChanges();
    this.servingSums.invalidate(changed, this.diagonal?.dims ?? 0);
    this.diagonal?.syncServing();
    this.disjoint?.syncServing();
  }

  snapshot(): ModelState {
    const out: ModelState = {};
    if (this.disjoint) out.disjoint = this.disjoint.snapshot();
    if (this.diagonal) out.diagonal = this.diagonal.snapshot();
    return out;
  }

  /** `snapshot()` as of now, the disjoint arms copied in steps (sliced-snapshot.ts); the diagonal part at once. */
  snapshotInSlices(): SlicedCopy<ModelState> {
    const disjoint = this.disjoint?.snapshotInSlices();
    const diagonal = this.diagonal?.snapshot();
    return {
      step: (max) => disjoint?.step(max) ?? true,
      result: () => {
        const out: ModelState = {};
        if (disjoint) out.disjoint = disjoint.result();
        if (diagonal) out.diagonal = diagonal;
        return out;
      },
    };
  }

  restore(state: ModelState): void {
    this.restoreInSlices(state).result();
  }

  /**
   * `restore` with the disjoint arms rebuilt in steps (disjoint-gaussian.ts `restoreInSlices`); the diagonal
   * part (a few ms at 2^18 slots) at the first step. The model changes only at `result()`: for a policy nobody
   * serves yet (app/policy-follower.ts restores a new mirror beside the one it serves).
   */
  restoreInSlices(state: ModelState): SlicedCopy<void> {
    const disjoint = state.disjoint
      ? DisjointGaussian.restoreInSlices(state.disjoint, this.opts.maxArms, this.opts.serving, this.items)
      : undefined;
    let diagonal: DiagonalGaussian | undefined;
    const step = (max: number): boolean => {
      if (state.diagonal && !diagonal) {
        diagonal = DiagonalGaussian.restore(state.diagonal);
        return false; // the diagonal took this step
      }
      return disjoint?.step(max) ?? true;
    };
    return {
      step,
      result: () => {
        this.servingSums.invalidate();
        if (disjoint) this.disjoint = disjoint.result();
        if (state.diagonal) this.diagonal = diagonal ?? DiagonalGaussian.restore(state.diagonal);
      },
    };
  }

  describe(): Record<string, unknown> {
    return {
      ...(this.disjoint ? { arms: this.disjoint.armCount } : {}),
      ...(this.diagonal ? { dims: this.diagonal.dims } : {}),
    };
  }
}

export interface ModelState {
  diagonal?: DiagonalGaussianState;
  disjoint?: DisjointState;
}

/** Per-arm full covariances (disjoint, hybrid) cost armDims² doubles an arm: bounded over maxArms arms. */
function checkArmBudget(opts: ModelOptions): void {
  if (opts.model === "shared") return;
  const bytes = opts.armDims * opts.armDims * 8 * opts.maxArms;
  if (bytes > SPEC_LIMITS.armBudgetBytes) {
    throw new LoopwiseError("VALIDATION_FAILED", "params.maxArms: too many arms for armDims", [
      {
        path: "params.maxArms",
        message: `armDims² × 8 B × maxArms is ${bytes} bytes; at most ${SPEC_LIMITS.armBudgetBytes} (lower maxArms or armDims)`,
      },
    ]);
  }
}
