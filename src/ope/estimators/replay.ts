import type { Estimator, EstimatorInput } from "../estimator.js";

/**
 * Replay (Li, Chu, Langford & Wang 2011, "Unbiased offline evaluation of contextual-bandit-based news
 * article recommendation algorithms"): keep the rounds where the deterministic target picks the logged
 * action and average their rewards. term_i = 1[π_e(x_i,k_i) = a_i] · r_i / mean(1[…]).
 * Unbiased only for uniformly random logs; for any other logger prefer IPS/SNIPS (replay equals SNIPS
 * when p_i is constant). Throws for a stochastic target: π_e(a_i|x_i,k_i) must be 0 or 1 every round.
 */
export const replay: Estimator = {
  name: "replay",
  label: "Replay",
  needsRewardModel: false,
  terms(input: EstimatorInput): Float64Array {
    const { reward, targetProb } = input;
    const n = reward.length;
    const out = new Float64Array(n);
    let matches = 0;
    for (let i = 0; i < n; i++) {
      const p = targetProb[i] as number;
      if (Math.abs(p - 1) < 1e-9) matches++;
      else if (Math.abs(p) > 1e-9) {
        throw new Error(`replay needs a deterministic target; round ${i} has target probability ${p}`);
      }
    }
    if (matches === 0) return out;
    const scale = n / matches;
    for (let i = 0; i < n; i++) if ((targetProb[i] as number) > 0.5) out[i] = (reward[i] as number) * scale;
    return out;
  },
};
