import type { Estimator, EstimatorInput, EstimatorParams } from "../estimator.js";
import { assertKnown } from "./dm.js";

/**
 * Doubly robust (Dudík, Langford & Li 2011), as OBP's `DoublyRobust`:
 * term_i = Σ_a π_e(a|x_i,k_i) q̂(x_i,a,k_i) + min(w_i, λ) (r_i − q̂(x_i,a_i,k_i)).
 * Unbiased when either the propensities or the reward model are right (λ = ∞).
 */
export const dr: Estimator = {
  name: "dr",
  label: "DR",
  needsRewardModel: true,
  terms(input: EstimatorInput, params: EstimatorParams): Float64Array {
    assertKnown(input.qTarget, "dr");
    const clip = params.clip ?? Number.POSITIVE_INFINITY;
    const { reward, targetProb, propensity, qLogged, qTarget } = input;
    const n = reward.length;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = (targetProb[i] as number) / (propensity[i] as number);
      const w = Math.min(v, clip);
      out[i] = (qTarget[i] as number) + w * ((reward[i] as number) - (qLogged[i] as number));
    }
    return out;
  },
};
