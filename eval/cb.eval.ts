import { join } from "node:path";
import type { PolicySpec } from "../src/bandit/policy.js";
import { DEFAULT_POLICY_SPEC } from "../src/bandit/policy-types.js";
import { type CbEvalRow, runCbEvalFile } from "../src/cli/eval-cb-run.js";
import { sharedDataDir } from "../src/core/data-dir.js";

/**
 * `npm run eval -- cb`: the contextual-bandit bake-off (../shared/data/cb/README.md) for every policy on
 * digits, mushroom, letter and shuttle: expected PV loss (lower is better), PV loss, greedy accuracy,
 * examples/s. The floor to beat is ε-greedy with ε = 0.05. Flags: --quick (first 2000 rows per set),
 * --seeds=N (sampler seeds per cell, default 3).
 */
const DATASETS = ["digits", "mushroom", "letter", "shuttle"];
const disjoint = { model: "disjoint", armDims: 64, priorVariance: 0.1 };
/** Shared (hashed ADF) models: the `action` feature already identifies the action, as in VW's ADF. */
const adf = { id: false };

export const BAKEOFF: [string, PolicySpec][] = [
  [`default (thompson, ${String(DEFAULT_POLICY_SPEC.params?.model)})`, DEFAULT_POLICY_SPEC],
  ["default, refreshEvery 1", { ...DEFAULT_POLICY_SPEC, params: { ...DEFAULT_POLICY_SPEC.params, refreshEvery: 1 } }],
  ["thompson disjoint, scale 1", { type: "thompson", params: { ...disjoint, explorationScale: 1, floor: 0.005 } }],
  [
    "thompson-logistic disjoint",
    { type: "thompson-logistic", params: { ...disjoint, priorVariance: 0.01, explorationScale: 0.2, floor: 0.005 } },
  ],
  [
    "thompson shared (diag)",
    { type: "thompson", params: { priorVariance: 0.01, explorationScale: 0.05, floor: 0.005 } },
  ],
  ["linucb disjoint α=0.3", { type: "linucb", params: { ...disjoint, alpha: 0.3, floor: 0.005 } }],
  ["linucb shared α=0.1", { type: "linucb", params: { alpha: 0.1, floor: 0.005 }, features: adf }],
  ["epsilon-greedy 0.05 (floor)", { type: "epsilon-greedy", params: { epsilon: 0.05 }, features: adf }],
  ["epsilon-greedy 0.05 disjoint", { type: "epsilon-greedy", params: { ...disjoint, epsilon: 0.05 } }],
  ["softmax disjoint τ=0.05", { type: "softmax", params: { ...disjoint, temperature: 0.05 } }],
  ["squarecb disjoint", { type: "squarecb", params: { ...disjoint } }],
  ["greedy disjoint", { type: "greedy", params: { ...disjoint } }],
  ["beta-bernoulli (context-free)", { type: "beta-bernoulli" }],
  ["uniform", { type: "uniform" }],
  ["baseline (first candidate)", { type: "baseline" }],
];

function flagValue(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a.startsWith(`${name}=`));
  return hit?.slice(name.length + 1);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const data = sharedDataDir();
  if (!data) {
    console.log("skipped: no shared data (set LOOPWISE_DATA or provide ../shared/data)");
    return { skipped: "no shared data" };
  }
  const limit = args.includes("--quick") ? 2000 : undefined;
  // Several seeds of the action sampler: one pass is one trajectory, and trajectories differ by a few points.
  const seeds = Number(flagValue(args, "--seeds") ?? 3);
  const rows: (CbEvalRow & { name: string; seed: number })[] = [];
  console.log(`expected PV loss, mean over ${seeds} seeds [min–max], and examples/s (lower loss is better)`);
  console.log(`${"policy".padEnd(30)} ${DATASETS.map((d) => d.padStart(34)).join("")}`);
  for (const [name, spec] of BAKEOFF) {
    const cells: string[] = [];
    for (const dataset of DATASETS) {
      const runs: CbEvalRow[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const row = runCbEvalFile(join(data, "cb", dataset, "shuffled.csv"), spec, seed, limit);
        runs.push(row);
        rows.push({ ...row, name, seed });
      }
      const losses = runs.map((r) => r.expectedPvLoss);
      const mean = losses.reduce((a, b) => a + b, 0) / runs.length;
      const speed = runs.reduce((a, r) => a + r.examplesPerSecond, 0) / runs.length;
      const range = `[${Math.min(...losses).toFixed(3)}–${Math.max(...losses).toFixed(3)}]`;
      cells.push(`${mean.toFixed(4)} ${range} ${String(Math.round(speed)).padStart(8)}`.padStart(34));
    }
    console.log(`${name.padEnd(30)} ${cells.join("")}`);
  }
  return {
    limit: limit ?? null,
    seeds,
    rows: rows.map((r) => ({
      name: r.name,
      dataset: r.dataset,
      seed: r.seed,
      spec: r.spec,
      pvLoss: r.pvLoss,
      expectedPvLoss: r.expectedPvLoss,
      greedyAccuracy: r.greedyAccuracy,
      examplesPerSecond: r.examplesPerSecond,
      peakRssMb: r.peakRssMb,
    })),
  };
}
