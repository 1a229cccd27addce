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
 * policies; `--engine` also runs the in-process engine (feature store and all) with the default policy;
 * `--candidates` runs every spec of CANDIDATES both alone and through the engine (how the default was
 * chosen; ~1–2 min per engine run), `--seed=N` picks the scenario seed (default 42).
 */
const thompson = (params: Record<string, unknown>, features: Record<string, unknown>): PolicySpec => ({
  type: "thompson",
  params: { explorationScale: 0.2, floor: 0.005, poolSize: 64, refreshEvery: 10, ...params },
  features,
});
const symlog = { interactions: true, id: false, numeric: "symlog" };

/** The specs compared when the default was chosen (issue 5/8 note): label and spec. */
export const CANDIDATES: [string, PolicySpec][] = [
  ["disjoint, raw (old default)", thompson({ model: "disjoint", armDims: 64, maxArms: 2000, priorVariance: 0.1 }, {})],
  [
    "disjoint, symlog",
    thompson({ model: "disjoint", armDims: 64, maxArms: 2000, priorVariance: 0.1 }, { numeric: "symlog" }),
  ],
  ["shared, symlog, no ids", thompson({ model: "shared", priorVariance: 0.001 }, symlog)],
  [
    "logistic shared, symlog, no ids",
    {
      type: "thompson-logistic",
      params: { priorVariance: 0.01, explorationScale: 0.2, floor: 0.005 },
      features: symlog,
    },
  ],
  [
    "hybrid, arm prior 0.003",
    thompson({ model: "hybrid", priorVariance: 0.001, armPriorVariance: 0.003, armDims: 64, maxArms: 2000 }, symlog),
  ],
  ["hybrid (default)", DEFAULT_POLICY_SPEC],
];

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const sessions = Number(args.find((a) => a.startsWith("--sessions="))?.split("=")[1] ?? 6000);
  const seed = Number(args.find((a) => a.startsWith("--seed="))?.split("=")[1] ?? 42);
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
  if (args.includes("--candidates")) {
    for (const [label, spec] of CANDIDATES) {
      runs.push(
        { label: `${label} (policy)`, via: "policy", spec },
        { label: `${label} (engine)`, via: "engine", spec },
      );
    }
  }
  const results: (LearningResult & { label: string })[] = [];
  for (const r of runs) {
    const result = await learningExperiment({ sessions, seed, via: r.via, policy: r.spec });
    results.push({ label: r.label, ...result });
    const f = result.final;
    console.log(
      `${r.label.padEnd(34)} ${result.policy.type} via ${result.via}: last quarter true CTR ${pct(f.policy)} | oracle ${pct(f.oracle)} context-only oracle ${pct(f.contextOracle)} popularity ${pct(f.popularity)} uniform ${pct(f.uniform)} | gap closed ${(f.gapClosed * 100).toFixed(1)}% (context-only oracle: ${(f.contextGapClosed * 100).toFixed(1)}%) | ${result.wallSeconds}s${result.note ? ` (${result.note})` : ""}`,
    );
    console.log(`  curve: ${result.curve.map((p) => `${p.sessions}:${pct(p.policy)}`).join(" ")}`);
  }
  const chartPath = fileURLToPath(new URL("./results/learning.svg", import.meta.url));
  writeFileSync(chartPath, learningChart(results));
  console.log(`chart: ${chartPath}`);
  return { sessions, seed, chart: "eval/results/learning.svg", defaultPolicy: DEFAULT_POLICY_SPEC, results };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
