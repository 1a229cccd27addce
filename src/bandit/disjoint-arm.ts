import type { BlockCache } from "./block-products.js";

/** One arm of the disjoint model (disjoint-gaussian.ts): its learner posterior and the serving copy. */
export interface Arm {
  /** The candidate id it is kept under. */
  id: string;
  mu: Float64Array;
  /** Packed upper triangle (packed-symmetric.ts). */
  cov: Float64Array;
  servingMu: Float64Array | undefined;
  servingCov: Float64Array | undefined;
  /**
   * The serving copy is the learner's own arrays (synced, not updated since): a sync hands the learner's arrays
   * to serving instead of copying them, and the next update writes its result into the spare arrays (the
   * previous serving copy) instead of in place. So an epoch change costs no copy, and an update after it reads
   * the matrix once and writes it once, as an update in place does.
   */
  shared: boolean;
  spareMu: Float64Array | undefined;
  spareCov: Float64Array | undefined;
  dirty: boolean;
  /** Products with one candidate-features block, for the learner and the serving posterior (see predict). */
  learnBlock: BlockCache | undefined;
  servingBlock: BlockCache | undefined;
}

export function newArm(
  id: string,
  mu: Float64Array,
  cov: Float64Array,
  servingMu: Float64Array | undefined,
  servingCov: Float64Array | undefined,
): Arm {
  return {
    id,
    mu,
    cov,
    servingMu,
    servingCov,
    shared: servingMu === mu,
    spareMu: undefined,
    spareCov: undefined,
    dirty: false,
    learnBlock: undefined,
    servingBlock: undefined,
  };
}
