import { type Estimator, type EstimatorInput, importanceWeights, meanOf } from "../estimator.js";
import { assertKnown } from "./dm.js";

/**
 * Self-normalized doubly robust, as OBP's `SelfNormalizedDoublyRobust`:
 * term_i = Σ_a π_e(a|x_i,k_i) q̂(x_i,a,k_i) + w_i (r_i − q̂(x_i,a_i,k_i)) / mean(w).
 * The correction is self-normalized like SNIPS (Kallus & Uehara 2019). Never clipped: OBP's SNDR
 * ignores `lambda_`, and self-normalization already bounds each term's influence.
 */
export const sndr: Estimator = {
  name: "sndr",
  label: "SNDR",
  needsRewardModel: true,
  terms(input: EstimatorInput): Float64Array {
    assertKnown(input.qTarget, "sndr");
    const w = importanceWeights(input);
    const norm = meanOf(w);
    const { reward, qLogged, qTarget } = input;
    const out = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) {
      // With Σw = 0 the correction carries no information: fall back to the DM term.
      const correction = norm > 0 ? ((w[i] as number) * ((reward[i] as number) - (qLogged[i] as number))) / norm : 0;
      out[i] = (qTarget[i] as number) + correction;
    }
    return out;
  },
};
