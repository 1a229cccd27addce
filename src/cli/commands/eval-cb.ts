import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Command } from "commander";
import { type CbResult, parseCbCsv, runProgressiveValidation } from "../../bandit/cb-eval.js";
import type { PolicySpec } from "../../bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, parsePolicySpec } from "../../bandit/policy-types.js";
import { rngFor } from "../../core/rng.js";
import { commandGroup } from "../group.js";

/**
 * `loopwise eval cb --data <dir>/shuffled.csv --policy SPEC`: the supervised-to-bandit bake-off protocol
 * of ../shared/data/cb/README.md (one online pass, progressive validation) for one policy.
 */
export interface CbEvalRow extends CbResult {
  spec: PolicySpec;
  /** Process peak resident set so far, MB (includes earlier runs in the same process: an upper bound). */
  peakRssMb: number;
}

export function runCbEvalFile(path: string, spec: PolicySpec, seed = 1, limit?: number): CbEvalRow {
  const name = basename(path) === "shuffled.csv" ? basename(dirname(path)) : basename(path);
  const data = parseCbCsv(name, readFileSync(path, "utf8"));
  const policy = createPolicy(`cb-${spec.type}`, spec);
  const result = runProgressiveValidation(
    data,
    policy,
    rngFor("cb-eval", `${name}:${seed}`),
    () => performance.now(),
    limit,
  );
  return { ...result, spec, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

export function formatCbRow(r: CbEvalRow): string {
  return [
    `data              ${r.dataset} (n=${r.n}, K=${r.k})`,
    `policy            ${JSON.stringify(r.spec)}`,
    `PV loss           ${r.pvLoss.toFixed(4)}`,
    `expected PV loss  ${r.expectedPvLoss.toFixed(4)}`,
    `greedy accuracy   ${r.greedyAccuracy.toFixed(4)}`,
    `examples/s        ${Math.round(r.examplesPerSecond)}`,
    `peak memory       ${r.peakRssMb.toFixed(0)} MB (process RSS)`,
  ].join("\n");
}

export function register(program: Command): void {
  commandGroup(program, "eval", "Offline evaluations on shared data")
    .command("cb")
    .description("contextual-bandit bake-off: one progressive-validation pass of a policy over a cb data set")
    .requiredOption("--data <file>", "a cb data set's shuffled.csv, e.g. ../shared/data/cb/digits/shuffled.csv")
    .option("--policy <spec>", "policy type name or JSON spec", JSON.stringify(DEFAULT_POLICY_SPEC))
    .option("--seed <n>", "seed of the action sampler", "1")
    .option("--limit <n>", "only the first n rows")
    .option("--format <format>", "table or json", "table")
    .action((opts: { data: string; policy: string; seed: string; limit?: string; format: string }) => {
      const spec = parsePolicySpec(opts.policy);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      const row = runCbEvalFile(opts.data, spec, Number(opts.seed), limit);
      process.stdout.write(opts.format === "json" ? `${JSON.stringify(row)}\n` : `${formatCbRow(row)}\n`);
    });
}
