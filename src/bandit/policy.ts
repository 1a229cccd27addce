import type { Rng } from "../core/rng.js";
import type { FeatureMap } from "../core/types.js";

/**
 * The policy port. A policy maps a context and candidate actions to a probability for every action
 * (Vowpal Wabbit's exploration-as-a-distribution); a seeded sampler picks one; the log stores the whole
 * distribution and the exact propensity of what was served.
 *
 * Slates follow VW's conditional contextual bandit (CCB) semantics: slot k is a decision among the
 * candidates not placed in slots < k, and its logged propensity is the exact conditional probability
 * P(item at slot k | items placed before). For slot 0 that is also the marginal. Decided because the
 * marginal P(item at position k) of a sequential sampler has no closed form for k > 0, and an estimated
 * propensity is not an exact one.
 */
export interface PolicyInput {
  /** Shared features the request sent (device, page, segment, …), flattened and named. */
  context: FeatureMap;
  /**
   * The user's feature-store aggregates (session, window, recency, affinity, …): a namespace of shared
   * features apart from the request's, as VW keeps namespaces. Each policy's spec picks which of them it
   * reads (`features.profile`, encoder.ts); a request feature of the same name wins over a profile one.
   */
  profile?: FeatureMap;
  /** Candidate actions in the order given, with action-dependent features (VW's ADF). */
  candidates: ReadonlyArray<PolicyCandidate>;
}

export interface PolicyCandidate {
  id: string;
  features?: FeatureMap;
  /** The recommender's score, if any. */
  score?: number;
  /**
   * Optional hint: `features` is `{ ...base, ...overlay }` (rank merges an item's catalog features, one object
   * per catalog version, with the request's own). Encoders then reuse the base's hashed block, cached by
   * object identity, and hash only the overlay, instead of hashing (and caching) a fresh merged object per
   * candidate per request. A symbol key: the log codec, JSON and structuredClone never see it; policies that
   * ignore it read `features` as before.
   */
  [FEATURE_LAYERS]?: FeatureLayers;
}

/** The key of PolicyCandidate's layered-features hint. */
export const FEATURE_LAYERS: unique symbol = Symbol("loopwise.featureLayers");

/** [base, overlay]: the candidate's `features` equals `{ ...base, ...overlay }`. */
export type FeatureLayers = readonly [base: FeatureMap, overlay: FeatureMap];

/** One filled slot of a decision. */
export interface SlotChoice {
  /** 0-based position in the slate. */
  position: number;
  /** Index into `PolicyInput.candidates`. */
  index: number;
  /** Exact probability with which `index` was chosen for this slot (conditional on earlier slots). */
  propensity: number;
  /** The full conditional distribution for this slot over all candidates (0 for already placed ones). */
  probabilities: Float64Array;
}

export interface PolicyFeedback {
  input: PolicyInput;
  /** Index of the candidate the reward is about. */
  index: number;
  position: number;
  /** Reward in the policy's units (clicks: 0/1; revenue: value). */
  reward: number;
  /** The logged propensity of that action at that position. */
  propensity: number;
  /** Candidates already placed before `position` (needed to recompute a slot's distribution). */
  placedBefore: readonly number[];
}

export interface PolicySpec {
  type: string;
  params?: Record<string, unknown>;
  /** Which features the policy uses; see features/encoder. Undefined = all, hashed. */
  features?: Record<string, unknown>;
}

export interface Policy {
  readonly id: string;
  readonly type: string;
  /** Spec revision; bumps when the policy is re-registered with new parameters. */
  readonly version: number;
  /** Conditional distribution over all candidates for the next slot, given `placed` (indices) are taken. */
  distribution(input: PolicyInput, placed?: readonly number[]): Float64Array;
  /** Fill `slots` positions, each drawn from exactly its logged distribution with `rng`. */
  rank(input: PolicyInput, slots: number, rng: Rng): SlotChoice[];
  /** Learn from one reward (rank-one updates; no refit). */
  update(feedback: PolicyFeedback): void;
  /** Parameters and learning progress for `GET /v1/policies/{id}`. */
  describe(): Record<string, unknown>;
  /** Serializable state; `restore` of the same type rebuilds an equal policy. */
  snapshot(): unknown;
}
