import type { OpeGate, OpeGateResult } from "../rollout/rollout-types.js";
import { type EvaluateDeps, runEvaluation } from "./evaluate.js";

/** Fewer resolved logged rounds than this and the gate says "logs do not suffice" (the first stage starts). */
export const MIN_GATE_ROUNDS = 500;

/**
 * The rollout's OPE gate: doubly robust estimates of the candidate and the incumbent on the last
 * `lookbackMs` of Loopwise's own decision log (each evaluated with its exact action distribution per logged
 * context). Undefined when the log is too small to say anything, so a fresh install can still roll out.
 */
export function createOpeGate(deps: EvaluateDeps, lookbackMs: number): OpeGate {
  return async (candidateId, incumbentId): Promise<OpeGateResult | undefined> => {
    const from = new Date(deps.clock.now() - lookbackMs).toISOString();
    let result: Awaited<ReturnType<typeof runEvaluation>>;
    try {
      result = await runEvaluation(
        { logs: `loopwise:${from}..`, targets: [`policy:${candidateId}`, `policy:${incumbentId}`], estimators: ["dr"] },
        deps,
      );
    } catch (error) {
      if ((error as { code?: string }).code === "VALIDATION_FAILED") return undefined; // no resolved rounds yet
      throw error;
    }
    if (result.n < MIN_GATE_ROUNDS) return undefined;
    const dr = (target: string) => {
      const estimate = result.targets.find((t) => t.target === target)?.estimates.find((e) => e.estimator === "dr");
      if (!estimate || estimate.value === undefined || !estimate.ci) return undefined;
      return { value: estimate.value, ci: estimate.ci };
    };
    const candidate = dr(`policy:${candidateId}`);
    const incumbent = dr(`policy:${incumbentId}`);
    if (!candidate || !incumbent) return undefined;
    return { candidate, incumbent, n: result.n };
  };
}
