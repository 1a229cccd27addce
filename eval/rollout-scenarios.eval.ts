import type { Criterion } from "../bench/support/suite-runner.js";
import { type RolloutExperimentResult, rolloutExperiment } from "../src/sim/experiments/rollout.js";

/**
 * `npm run eval -- rollout-scenarios [--only=NAME,...] [--seeds=1,2,3]`: the built-in rollout scenarios in process on the
 * fast clock, on the real engine (no real data needed), with their criteria:
 * - `rollout-bad` (candidate 0.9× the incumbent's true CTR) is rolled back by a guardrail regression at a stage
 *   (after the candidate served); `rollout-good` (1.1×) is promoted through every stage of the plan;
 * - `rollout-gate-bad`: after 2 days of incumbent-only traffic, a far worse candidate is rolled back by the OPE
 *   gate before it serves anyone; `rollout-gate-good`: a better learner passes the gate and is promoted;
 * - each runs in ≤ 120 s of wall time (issue 12: the engine must be fast enough for week-long rollouts).
 */
const SCENARIOS: Record<string, (r: RolloutExperimentResult) => Criterion[]> = {
  "rollout-bad": (r) => [
    {
      name: "rollout-bad is rolled back by a guardrail regression at a stage",
      pass:
        r.finalStatus === "rolled_back" &&
        (r.lastTransition?.reasons.includes("guardrail_regression") ?? false) &&
        (r.lastTransition?.fromStage ?? 0) > 0,
      measured: `${out(r)}; ${transition(r)}`,
    },
  ],
  "rollout-good": (r) => [
    {
      name: "rollout-good is promoted through every stage",
      pass: r.finalStatus === "completed" && [1, 10, 50].every((s) => r.transitions.some((t) => t.fromStage === s)),
      measured: `${out(r)}; ${r.transitions.map((t) => `${t.action} ${t.fromStage}% → ${t.toStage}%`).join(", ")}`,
    },
  ],
  "rollout-gate-bad": (r) => [
    {
      name: "rollout-gate-bad is rolled back by the OPE gate before the candidate serves",
      pass: r.finalStatus === "rolled_back" && (r.arms.candidate?.decisions ?? 0) === 0,
      measured: `${out(r)}, candidate decisions ${r.arms.candidate?.decisions ?? 0}`,
    },
  ],
  "rollout-gate-good": (r) => [
    {
      name: "rollout-gate-good passes the gate and is promoted",
      pass: r.finalStatus === "completed",
      measured: out(r),
    },
  ],
};

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const only = listArg(args, "only");
  // The scenario's own seed when none is given; several seeds check that an outcome is not one lucky draw.
  const seeds = listArg(args, "seeds")?.map(Number) ?? [undefined];
  const criteria: Criterion[] = [];
  const results: Record<string, unknown>[] = [];
  for (const [scenario, check] of Object.entries(SCENARIOS)) {
    if (only && !only.includes(scenario)) continue;
    for (const seed of seeds) {
      const r = await rolloutExperiment({ scenario, ...(seed !== undefined ? { seed } : {}) });
      const name = seed === undefined ? scenario : `${scenario} (seed ${seed})`;
      console.log(`${name}: ${out(r)}; ${r.timeline.map((t) => `${t.at} ${t.status} ${t.stage}%`).join(" → ")}`);
      criteria.push(
        ...check(r).map((c) => ({ ...c, name: seed === undefined ? c.name : `${c.name} (seed ${seed})` })),
        {
          name: `${name} runs in ≤ 120 s wall`,
          pass: r.wallSeconds <= 120,
          measured: `${r.wallSeconds} s (${r.cpuSeconds} s of CPU), ${r.simulatedDays} simulated days, ${r.report.requests.total} requests`,
        },
      );
      const { report: _report, ...summary } = r;
      results.push({ seed: r.report.seed, ...summary });
    }
  }
  return { criteria, results };
}

/** `--NAME=a,b,c` as a list; undefined when absent. */
function listArg(args: string[], name: string): string[] | undefined {
  return args
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(",")
    .filter((v) => v !== "");
}

function transition(r: RolloutExperimentResult): string {
  const t = r.lastTransition;
  return t ? `last transition ${t.action} from ${t.fromStage}% (${t.reasons.join(", ")})` : "no transition";
}

function out(r: RolloutExperimentResult): string {
  const ratio = r.trueCtrRatio === undefined ? "" : `, true CTR ratio ${r.trueCtrRatio.toFixed(3)}`;
  const spent = `${r.simulatedDays} simulated days in ${r.wallSeconds} s wall (${r.cpuSeconds} s CPU)`;
  return `${r.finalStatus ?? "?"} at ${r.finalStage ?? "?"}% after ${spent}${ratio}`;
}
