import type { Estimator, EstimatorInput, EstimatorParams } from "../estimator.js";

/**
 * Inverse propensity scoring (Horvitz & Thompson 1952; Precup et al. 2000), as OBP's
 * `InverseProbabilityWeighting`: term_i = min(w_i, λ) · r_i with w_i = π_e(a_i|x_i,k_i) / p_i.
 * Unbiased when λ = ∞ and the logger covers every action the target can take (p_i > 0 wherever π_e > 0);
 * clipping trades that bias for variance.
 */
export const ips: Estimator = {
  name: "ips",
  label: "IPS",
  needsRewardModel: false,
  terms(input: EstimatorInput, params: EstimatorParams): Float64Array {
    const clip = params.clip ?? Number.POSITIVE_INFINITY;
    const { reward, targetProb, propensity } = input;
    const n = reward.length;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = (targetProb[i] as number) / (propensity[i] as number);
      out[i] = Math.min(w, clip) * (reward[i] as number);
    }
    return out;
  },
};
