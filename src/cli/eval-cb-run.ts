import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { type CbResult, parseCbCsv, runProgressiveValidation } from "../bandit/cb-eval.js";
import type { PolicySpec } from "../bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, parsePolicySpec } from "../bandit/policy-types.js";
import { rngFor } from "../core/rng.js";

/**
 * What `loopwise eval cb --data <dir>/shuffled.csv --policy SPEC` runs: the supervised-to-bandit bake-off protocol
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

/** `--policy`: `default` is the product default spec (what a fresh install serves); else a type or JSON spec. */
export function cbPolicySpec(text: string): PolicySpec {
  return text.trim() === "default" ? DEFAULT_POLICY_SPEC : parsePolicySpec(text);
}
