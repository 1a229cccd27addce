import type { Criterion } from "../bench/support/suite-runner.js";
import { type WarmRolloutResult, warmRolloutExperiment } from "../src/sim/experiments/warm-rollout.js";

/**
 * `npm run eval -- warm-rollout [--seed=N]`: a learning candidate (the product default spec) rolled out
 * against an equal incumbent that has served the simulated shop alone for 3 days, once cold and once
 * warm-started from the decision log (POST /v1/policies `warmStart`). No real data needed; ~3 min a run.
 * Criteria (moved here from `npm test`, where the full size took 2–8 minutes): warm, the candidate is promoted
 * through every stage and earns within 5% of the incumbent's true CTR; cold, it is not promoted (the OPE gate
 * or the guardrails stop an untrained candidate). src/sim/experiments/warm-rollout.test.ts keeps a small version.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const seed = Number(args.find((a) => a.startsWith("--seed="))?.split("=")[1] ?? 42);
  const results = [];
  for (const warm of [false, true]) {
    const r = await warmRolloutExperiment({ warm, seed });
    const c = r.arms.candidate;
    const i = r.arms.incumbent;
    console.log(
      `${warm ? "warm" : "cold"}: ${r.finalStatus ?? "?"} at ${r.finalStage ?? "?"}% | candidate true CTR ${pct(c?.trueCtr)} over ${c?.decisions ?? 0} decisions, incumbent ${pct(i?.trueCtr)} over ${i?.decisions ?? 0}${r.warmStart ? ` | warm start: ${r.warmStart.rounds} rounds of ${r.warmStart.decisions} decisions` : ""} | ${r.wallSeconds}s`,
    );
    for (const t of r.timeline) console.log(`  ${t.at} ${t.status} ${t.stage}%`);
    results.push(r);
  }
  return { seed, criteria: criteriaOf(results), results };
}

function criteriaOf(results: WarmRolloutResult[]): Criterion[] {
  const out: Criterion[] = [];
  for (const r of results) {
    const ratio = (r.arms.candidate?.trueCtr ?? 0) / (r.arms.incumbent?.trueCtr ?? 1);
    const outcome = `${r.finalStatus ?? "?"} at ${r.finalStage ?? "?"}%, true CTR ratio ${ratio.toFixed(3)}`;
    if (r.warm) {
      out.push({
        name: "a warm-started equal candidate is promoted to 100% and earns ≥ 0.95× the incumbent",
        pass: r.finalStatus === "completed" && r.finalStage === 100 && ratio >= 0.95,
        measured: outcome,
      });
    } else {
      out.push({ name: "a cold candidate is not promoted", pass: r.finalStatus !== "completed", measured: outcome });
    }
  }
  return out;
}

function pct(x: number | undefined): string {
  return x === undefined ? "n/a" : `${(x * 100).toFixed(2)}%`;
}
