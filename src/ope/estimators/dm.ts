import type { Estimator, EstimatorInput } from "../estimator.js";

/**
 * Direct method (Beygelzimer & Langford 2009), as OBP's `DirectMethod`:
 * term_i = Σ_a π_e(a|x_i,k_i) q̂(x_i,a,k_i). No importance weights, so low variance; biased exactly as
 * much as the reward model q̂ is wrong.
 */
export const dm: Estimator = {
  name: "dm",
  label: "DM",
  needsRewardModel: true,
  terms(input: EstimatorInput): Float64Array {
    assertKnown(input.qTarget, "dm");
    return Float64Array.from(input.qTarget);
  },
};

/** DM-family estimators need Σ_a π_e q̂, unknown when the target's full distribution is unknown. */
export function assertKnown(qTarget: Float64Array, name: string): void {
  for (let i = 0; i < qTarget.length; i++) {
    if (Number.isNaN(qTarget[i] as number)) {
      throw new Error(
        `${name} needs the target's full action distribution at round ${i}, which is unknown for this target`,
      );
    }
  }
}
