import { type Estimator, type EstimatorInput, importanceWeights, meanOf } from "../estimator.js";

/**
 * Self-normalized IPS (Swaminathan & Joachims 2015), as OBP's `SelfNormalizedInverseProbabilityWeighting`:
 * term_i = w_i · r_i / mean(w), so the value is Σ w r / Σ w. Consistent (biased in small samples), and
 * invariant to adding a constant to rewards. Not clipped (OBP's SNIPW ignores λ as well).
 */
export const snips: Estimator = {
  name: "snips",
  label: "SNIPS",
  needsRewardModel: false,
  terms(input: EstimatorInput): Float64Array {
    const w = importanceWeights(input);
    const norm = meanOf(w);
    const { reward } = input;
    const out = new Float64Array(w.length);
    // Σw = 0: the target never chose a logged action, so the log says nothing about it. A value of 0
    // would be a fake estimate; the estimate is undefined (evaluate-log reports the reason).
    if (!(norm > 0)) {
      throw new Error(
        w.length === 0
          ? "undefined: too few rounds (none)"
          : "undefined: no weight (the target gives probability 0 to every logged action, Σw = 0)",
      );
    }
    for (let i = 0; i < w.length; i++) out[i] = ((w[i] as number) * (reward[i] as number)) / norm;
    return out;
  },
};
