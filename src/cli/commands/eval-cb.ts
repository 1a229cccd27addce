import type { Command } from "commander";
import { commandGroup } from "../group.js";

/**
 * `loopwise eval cb --data <dir>/shuffled.csv --policy SPEC`: the supervised-to-bandit bake-off protocol
 * of ../shared/data/cb/README.md for one policy (../eval-cb-run.ts).
 */
export function register(program: Command): void {
  commandGroup(program, "eval", "offline evaluations on the shared data sets")
    .command("cb")
    .description("contextual-bandit bake-off: one progressive-validation pass of a policy over a cb data set")
    .requiredOption("--data <file>", "a cb data set's shuffled.csv, e.g. ../shared/data/cb/digits/shuffled.csv")
    .option("--policy <spec>", "default (the product default), a policy type name, or a JSON spec", "default")
    .option("--seed <n>", "seed of the action sampler", "1")
    .option("--limit <n>", "only the first n rows")
    .option("--format <format>", "table | json", "table")
    .action(async (opts: { data: string; policy: string; seed: string; limit?: string; format: string }) => {
      const { cbPolicySpec, formatCbRow, runCbEvalFile } = await import("../eval-cb-run.js");
      const spec = cbPolicySpec(opts.policy);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      const row = runCbEvalFile(opts.data, spec, Number(opts.seed), limit);
      process.stdout.write(opts.format === "json" ? `${JSON.stringify(row)}\n` : `${formatCbRow(row)}\n`);
    });
}
