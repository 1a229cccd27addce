/**
 * The estimator port. Every estimator maps columnar per-round inputs to per-round terms whose mean is the
 * estimated policy value (Open Bandit Pipeline's `_estimate_round_rewards`, Saito et al. 2021,
 * arXiv:2008.07146); one shared `summarize(terms)` turns terms into value, stderr and confidence intervals.
 *
 * Round i is one logged (context x_i, position k_i, action a_i, reward r_i) with logged propensity p_i.
 * The importance weight is w_i = π_e(a_i | x_i, k_i) / p_i (OBP's "position-based" action_dist[i, a, k]).
 */
export interface EstimatorInput {
  /** r_i. */
  reward: Float64Array;
  /** p_i: the logging policy's probability of the logged action at its position. */
  propensity: Float64Array;
  /** π_e(a_i | x_i, k_i): the target's probability of the logged action at the logged position. */
  targetProb: Float64Array;
  /** q̂(x_i, a_i, k_i): the reward model's prediction for the logged action. */
  qLogged: Float64Array;
  /** Σ_a π_e(a | x_i, k_i) q̂(x_i, a, k_i): the target-weighted reward-model prediction. NaN when unknown. */
  qTarget: Float64Array;
}

export interface EstimatorParams {
  /** IPS / DR clipping λ: weights above λ are set to λ (OBP `lambda_`). Default +∞ (no clipping). */
  clip?: number;
  /** Switch-DR λ: the DR correction is kept only where w_i ≤ λ. Default +∞ (plain DR). */
  switchLambda?: number;
}

export interface Estimator {
  /** Registry name, as given to `--estimators`. */
  readonly name: string;
  /** Short human label for tables and reports. */
  readonly label: string;
  /** True when the estimator reads `qLogged` / `qTarget` (DM, DR family): needs a reward model. */
  readonly needsRewardModel: boolean;
  /** Per-round terms; their mean is the estimate. Throws on inputs the estimator cannot handle. */
  terms(input: EstimatorInput, params: EstimatorParams): Float64Array;
}

/** w_i = π_e(a_i|x_i,k_i) / p_i, optionally clipped at λ (OBP IPW: `np.minimum(iw, lambda_)`). */
export function importanceWeights(input: EstimatorInput, clip = Number.POSITIVE_INFINITY): Float64Array {
  const { targetProb, propensity } = input;
  const n = targetProb.length;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = (targetProb[i] as number) / (propensity[i] as number);
    w[i] = Math.min(v, clip);
  }
  return w;
}

export function meanOf(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return values.length === 0 ? Number.NaN : s / values.length;
}
