/** The encoder's options and output (encoder.ts): shared by the models that read encoded inputs. */
export interface EncoderOptions {
  /** Number of hashed slots, a power of two. */
  dims: number;
  /** Add shared×action interactions (VW `-q sa`). */
  interactions: boolean;
  /** Add the candidate id as a one-hot action feature (per-item weights; with interactions, per-item × context). On by default: without it, candidates without features are indistinguishable. */
  id: boolean;
  /** Add the recommender score as a numeric action feature when present. */
  score: boolean;
  /**
   * Numeric values (context, action features, score): `raw`, or `symlog` = sign(x)·log(1 + |x|). A Bayesian
   * linear model with a fixed prior is not scale-invariant: raw feature-store numbers (seconds ≈ 10³, prices
   * ≈ 10²) swamp one-hot features and, through interactions, the posterior (VW copes through its normalized
   * update: Ross, Mineiro & Langford 2013). symlog keeps sign, order and 0 and needs no state (snapshots and
   * offline `distribution()` stay pure). Unset = `raw`, so saved snapshots keep their meaning.
   */
  numeric: NumericTransform;
  /**
   * Which features of `PolicyInput.profile` (the feature store's aggregates for the user) join the shared
   * features: `all`, `none`, or a list of names, each exact or a prefix ending in `*` (`affinity_*`). A
   * request-context feature of the same name wins. Unset = `all`, the behaviour before the namespace split,
   * so saved specs keep their meaning.
   */
  profile: ProfileSelection;
  /**
   * Encode the candidates' `features` (default true). The hybrid model's per-item part turns them off: an
   * item's features are the same on every request, so in a per-item model they only duplicate its intercept
   * (and widen its prior with every feature's scale); the shared part is where they generalize.
   */
  actionFeatures?: boolean;
}

export type ProfileSelection = "all" | "none" | readonly string[];

export type NumericTransform = "raw" | "symlog";

export const DEFAULT_ENCODER: EncoderOptions = {
  dims: 1 << 18,
  interactions: true,
  id: true,
  score: true,
  numeric: "raw",
  profile: "all",
};

/** sign(x)·log(1 + |x|). */
export function symlog(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

/** Sparse vector views into the encoder's buffers: valid until the next `encode` call. */
export interface EncodedInput {
  n: number;
  sharedIdx: Int32Array;
  sharedVal: Float64Array;
  sharedLen: number;
  /** Candidate c occupies [offsets[c], offsets[c+1]) of `idx`/`val`. */
  offsets: Int32Array;
  idx: Int32Array;
  val: Float64Array;
  /**
   * Without interactions, candidate c's first `blockLen[c]` entries are the hashed encoding of its
   * `features` object, identified by `blockId[c]` (unique for the life of the encoder, never reused; -1 = none). Models
   * may cache per-block products (disjoint-gaussian.ts); the remaining entries (score, id) vary per request.
   */
  blockId: Float64Array;
  blockLen: Int32Array;
}
