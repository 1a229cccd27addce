import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { PolicySpec } from "../src/bandit/policy.js";
import { DEFAULT_POLICY_SPEC } from "../src/bandit/policy-types.js";
import { type LearningResult, learningChart, learningExperiment } from "../src/sim/experiments/learning.js";

/**
 * `npm run eval -- learning [--sessions=N] [--compare]`: the learning experiment of issue 8 on the simulated
 * shop (no real data needed). The product's default policy (DEFAULT_POLICY_SPEC) learns from the seeded
 * stream of visits; every request also gets the exact CTR the oracle, the best popularity ranking and
 * uniform would have had. Writes the curve to eval/results/learning.svg. `--compare` adds a few other
 * policies; `--engine` also runs the in-process engine (feature store and all) with the default policy.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const sessions = Number(args.find((a) => a.startsWith("--sessions="))?.split("=")[1] ?? 6000);
  const runs: { label: string; via: "policy" | "engine"; spec: PolicySpec }[] = [
    { label: "default", via: "policy", spec: DEFAULT_POLICY_SPEC },
  ];
  if (args.includes("--compare")) {
    runs.push(
      {
        label: "thompson shared, no ids",
        via: "policy",
        spec: { type: "thompson", params: { model: "shared" }, features: { interactions: true, id: false } },
      },
      {
        label: "thompson-logistic, no ids",
        via: "policy",
        spec: { type: "thompson-logistic", features: { interactions: true, id: false } },
      },
      { label: "epsilon-greedy 0.05", via: "policy", spec: { type: "epsilon-greedy", params: { epsilon: 0.05 } } },
    );
  }
  if (args.includes("--engine")) runs.push({ label: "default (engine)", via: "engine", spec: DEFAULT_POLICY_SPEC });
  const results: (LearningResult & { label: string })[] = [];
  for (const r of runs) {
    const result = await learningExperiment({ sessions, via: r.via, policy: r.spec });
    results.push({ label: r.label, ...result });
    const f = result.final;
    console.log(
      `${r.label.padEnd(24)} ${result.policy.type} via ${result.via}: last quarter true CTR ${pct(f.policy)} | oracle ${pct(f.oracle)} context-only oracle ${pct(f.contextOracle)} popularity ${pct(f.popularity)} uniform ${pct(f.uniform)} | gap closed ${(f.gapClosed * 100).toFixed(1)}% (context-only oracle: ${(f.contextGapClosed * 100).toFixed(1)}%) | ${result.wallSeconds}s${result.note ? ` (${result.note})` : ""}`,
    );
    console.log(`  curve: ${result.curve.map((p) => `${p.sessions}:${pct(p.policy)}`).join(" ")}`);
  }
  const chartPath = fileURLToPath(new URL("./results/learning.svg", import.meta.url));
  writeFileSync(chartPath, learningChart(results));
  console.log(`chart: ${chartPath}`);
  return { sessions, chart: "eval/results/learning.svg", defaultPolicy: DEFAULT_POLICY_SPEC, results };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
