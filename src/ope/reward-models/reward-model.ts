import type { LoggedRound } from "../logged-round.js";

/**
 * A reward model q̂(x, a, k) for DM and the DR family. `fit` sees the whole log; the fitted model fills
 * q̂ for every candidate of round i. Learned models cross-fit (K folds): round i is predicted by the
 * model trained without i's fold, so DR's correction is not fit to its own noise (Chernozhukov et al.
 * 2018; Narita et al. 2021 as used in OBP's `RegressionModel.fit_predict(n_folds)`).
 */
export interface FittedRewardModel {
  /** Fills `out[0..candidates.length)` with q̂ for round `index`. */
  predict(round: LoggedRound, index: number, out: Float64Array): void;
}

export interface RewardModelOptions {
  /** Cross-fitting folds for learned models. Default 3. */
  folds?: number;
  seed?: number;
}

export interface RewardModel {
  readonly name: string;
  readonly description: string;
  fit(rounds: readonly LoggedRound[], options: RewardModelOptions): FittedRewardModel;
}
