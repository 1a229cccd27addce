import type { Estimator, EstimatorInput, EstimatorParams } from "../estimator.js";
import { assertKnown } from "./dm.js";

/**
 * Switch doubly robust (Wang, Agarwal & Dudík 2017), as OBP's `SwitchDoublyRobust`:
 * term_i = Σ_a π_e(a|x_i,k_i) q̂(x_i,a,k_i) + 1[w_i ≤ λ] · w_i (r_i − q̂(x_i,a_i,k_i)).
 * Rounds with a weight above λ trust the reward model alone; λ = ∞ is DR, λ = 0 is DM (for w > 0).
 */
export const switchDr: Estimator = {
  name: "switch-dr",
  label: "Switch-DR",
  needsRewardModel: true,
  terms(input: EstimatorInput, params: EstimatorParams): Float64Array {
    assertKnown(input.qTarget, "switch-dr");
    const lambda = params.switchLambda ?? Number.POSITIVE_INFINITY;
    const { reward, targetProb, propensity, qLogged, qTarget } = input;
    const n = reward.length;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = (targetProb[i] as number) / (propensity[i] as number);
      const correction = w <= lambda ? w * ((reward[i] as number) - (qLogged[i] as number)) : 0;
      out[i] = (qTarget[i] as number) + correction;
    }
    return out;
  },
};
