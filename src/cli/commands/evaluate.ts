import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import type { EvaluationRequest } from "../../app/evaluate.js";
import { LoopwiseError } from "../../core/errors.js";
import type { EvaluationResult } from "../../ope/evaluate-log.js";
import { openCliLog } from "../open-log.js";
import { type DataDirOptions, loadCliConfig, parseNumberOption, withDataDir } from "../options.js";
import { withProgress } from "../progress.js";

/**
 * `loopwise evaluate --logs SOURCE --target SPEC…`: offline policy evaluation of target policies on a
 * decision log (`loopwise:[FROM..TO]` under --data-dir), an Open Bandit Dataset CSV (`obd:FILE.csv`) or
 * a Vowpal Wabbit DSJSON file (`dsjson:FILE`). The logging policy and uniform are always evaluated.
 * `loopwise:` without an end stops one reward window before now (app/evaluate.ts closedWindowsEnd).
 */
interface EvaluateOptions extends DataDirOptions {
  logs: string;
  target?: string[];
  estimators?: string;
  rewardModel?: string;
  clip?: string;
  switchLambda?: string;
  bootstrap?: string;
  seed?: string;
  alpha?: string;
  format: string;
  out?: string;
}

export function register(program: Command): void {
  const command = program
    .command("evaluate")
    .description("estimate what target policies would have earned on logged decisions (offline policy evaluation)")
    .requiredOption(
      "--logs <source>",
      "loopwise:[FROM..TO] (TO default: one reward window before now) | obd:FILE.csv | dsjson:FILE",
    )
    .option(
      "--target <spec...>",
      "uniform | logging | policy:<id> | file:<probs.csv> | a JSON policy spec | learn:<policy:id or JSON spec> (keeps learning along the log) (logging and uniform are always included)",
    )
    .option("--estimators <list>", "comma-separated: ips,snips,dm,dr,sndr,switch-dr,replay")
    .option("--reward-model <name>", "tabular | tabular-action | ridge | logistic (default tabular)")
    .option("--clip <lambda>", "clip importance weights at lambda (IPS and DR, as OBP)")
    .option("--switch-lambda <lambda>", "Switch-DR threshold on the weight")
    .option("--bootstrap <n>", "bootstrap resamples for a bootstrap CI (default 0: normal CI only)")
    .option("--seed <s>", "seed for bootstrap and cross-fitting (default 0)")
    .option("--alpha <a>", "1 - confidence level (default 0.05)")
    .option("--format <format>", "table | json | html", "table")
    .option("--out <file>", "write the report to FILE instead of stdout");
  withDataDir(command).action(async (opts: EvaluateOptions) => {
    if (!["table", "json", "html"].includes(opts.format)) {
      throw new LoopwiseError("VALIDATION_FAILED", `--format must be table, json or html, not "${opts.format}"`);
    }
    const config = await loadCliConfig(opts);
    const request = requestOf(opts);
    const needsLog = opts.logs.startsWith("loopwise");
    const { joinConfigOf } = await import("../../app/engine.js");
    const { defaultPolicyResolver, runEvaluation } = await import("../../app/evaluate.js");
    const { PolicyRegistry } = await import("../../bandit/policy-registry.js");
    const { systemClock } = await import("../../core/clock.js");
    const opened = needsLog ? await openCliLog(config) : undefined;
    try {
      // `policy:<id>` targets are the policies registered with the server, restored from their snapshots.
      const registered = opened ? await PolicyRegistry.open({ clock: systemClock, store: opened.policies }) : undefined;
      const deps = {
        ...(opened ? { decisions: opened.decisions } : {}),
        joinConfig: joinConfigOf(config),
        clock: systemClock,
        resolvePolicy: defaultPolicyResolver(registered),
      };
      const result = await withProgress("evaluate", (progress) =>
        runEvaluation(request, deps, (f) => progress.update(f)),
      );
      await output(result, opts);
    } finally {
      await opened?.close();
    }
  });
}

function requestOf(opts: EvaluateOptions): EvaluationRequest {
  const request: EvaluationRequest = { logs: opts.logs, targets: opts.target ?? [] };
  if (opts.estimators)
    request.estimators = opts.estimators
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (opts.rewardModel) request.rewardModel = opts.rewardModel;
  if (opts.clip !== undefined) request.clip = numberOf("--clip", opts.clip);
  if (opts.switchLambda !== undefined) request.switchLambda = numberOf("--switch-lambda", opts.switchLambda);
  if (opts.bootstrap !== undefined) request.bootstrap = numberOf("--bootstrap", opts.bootstrap);
  if (opts.seed !== undefined) request.seed = numberOf("--seed", opts.seed);
  if (opts.alpha !== undefined) request.alpha = numberOf("--alpha", opts.alpha);
  return request;
}

const numberOf = parseNumberOption;

async function output(result: EvaluationResult, opts: EvaluateOptions): Promise<void> {
  const { renderHtmlReport } = await import("../../ope/report-html.js");
  const { formatTable } = await import("../../ope/report-table.js");
  const text =
    opts.format === "json"
      ? `${JSON.stringify(result, null, 2)}\n`
      : opts.format === "html"
        ? renderHtmlReport(result)
        : formatTable(result);
  if (opts.out) {
    await writeFile(opts.out, text);
    if (opts.format !== "json") process.stderr.write(`wrote ${opts.out}\n`);
  } else {
    process.stdout.write(text);
  }
}
