import { warmRolloutExperiment } from "../src/sim/experiments/warm-rollout.js";

/**
 * `npm run eval -- warm-rollout [--seed=N]`: a learning candidate (the product default spec) rolled out
 * against an equal incumbent that has served the simulated shop alone for 3 days, once cold and once
 * warm-started from the decision log (POST /v1/policies `warmStart`). No real data needed; ~3 min a run.
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
  return { seed, results };
}

function pct(x: number | undefined): string {
  return x === undefined ? "n/a" : `${(x * 100).toFixed(2)}%`;
}
