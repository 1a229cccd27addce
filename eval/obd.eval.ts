import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDataDir } from "../src/core/data-dir.js";
import { evaluateLog } from "../src/ope/evaluate-log.js";
import type { LoggedRounds } from "../src/ope/logged-round.js";
import { parseObdCsv } from "../src/ope/sources/obd-source.js";
import { loggingTarget, type TargetPolicy, uniformTarget } from "../src/ope/targets.js";

/**
 * `npm run eval -- obd`: the Open Bandit Dataset sample (Saito et al. 2021), campaigns men and women, logs
 * random and bts. On each log we evaluate the uniform (Random) policy and the Bernoulli TS policy and print
 * the estimates beside the on-policy ground truth: the mean click of that policy's own log.
 * - uniform: the Random log's policy exactly (1/n_items at every position).
 * - bts: on its own log the logging target (w = 1); on the Random log OBD does not give BTS's per-round
 *   distribution, so we use its time average estimated from the bts log: P(item a at position k) = share
 *   of bts rows at k showing a. That is an approximation of the target (BTS changed during the week).
 * Options: --reward-model NAME (default tabular), --bootstrap N.
 */
const ESTIMATORS = ["ips", "snips", "dm", "dr", "sndr", "switch-dr"];

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const dir = sharedDataDir();
  if (!dir) {
    console.log("skipped: no shared data dir (../shared/data or LOOPWISE_DATA)");
    return { skipped: true };
  }
  const rewardModel = optionOf(args, "--reward-model") ?? "tabular";
  const bootstrap = Number(optionOf(args, "--bootstrap") ?? 0);
  const rows: Record<string, unknown>[] = [];
  for (const campaign of ["men", "women"]) {
    const logs = Object.fromEntries(["random", "bts"].map((p) => [p, load(dir, p, campaign)] as const)) as Record<
      "random" | "bts",
      LoggedRounds
    >;
    const truth = { uniform: meanReward(logs.random), bts: meanReward(logs.bts) };
    const btsAverage = timeAveraged(logs.bts);
    for (const logName of ["random", "bts"] as const) {
      const targets: [string, TargetPolicy][] = [
        ["uniform", uniformTarget()],
        ["bts", logName === "bts" ? loggingTarget() : btsAverage],
      ];
      const result = await evaluateLog(
        logs[logName],
        targets.map(([, t]) => t),
        { estimators: ESTIMATORS, rewardModel, bootstrap, seed: 1 },
      );
      for (const [i, [policy]] of targets.entries()) {
        const t = result.targets[i];
        const row: Record<string, unknown> = {
          campaign,
          log: logName,
          policy,
          truth: truth[policy as "uniform" | "bts"],
        };
        for (const e of t?.estimates ?? []) row[e.estimator] = e.value ?? null;
        row.ess = t?.diagnostics.ess;
        row.warnings = t?.diagnostics.warnings.length;
        rows.push(row);
      }
    }
  }
  printTable(rows);
  return { rewardModel, estimators: ESTIMATORS, rows };
}

function load(dir: string, policy: string, campaign: string): LoggedRounds {
  const base = join(dir, "obd", policy, campaign);
  return parseObdCsv(readFileSync(join(base, `${campaign}.csv`), "utf8"), {
    source: `${policy}/${campaign}`,
    itemContext: readFileSync(join(base, "item_context.csv"), "utf8"),
  });
}

function meanReward(log: LoggedRounds): number {
  return log.rounds.reduce((s, r) => s + r.reward, 0) / log.rounds.length;
}

/** BTS's time-averaged position-wise distribution, from how often the bts log showed each item at k. */
function timeAveraged(bts: LoggedRounds): TargetPolicy {
  const nItems = bts.rounds[0]?.candidates.length ?? 0;
  const byPosition = new Map<number, Float64Array>();
  for (const r of bts.rounds) {
    const counts = byPosition.get(r.position) ?? new Float64Array(nItems);
    counts[r.action] = (counts[r.action] as number) + 1;
    byPosition.set(r.position, counts);
  }
  for (const counts of byPosition.values()) {
    const total = counts.reduce((s, c) => s + c, 0);
    for (let a = 0; a < counts.length; a++) counts[a] = (counts[a] as number) / total;
  }
  return { name: "bts (time-averaged)", kind: "file", distribution: (r) => byPosition.get(r.position) };
}

function printTable(rows: Record<string, unknown>[]): void {
  const cols = ["campaign", "log", "policy", "truth", ...ESTIMATORS, "ess"];
  const cell = (v: unknown) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(5)) : String(v ?? "n/a");
  const table = [cols, ...rows.map((r) => cols.map((c) => cell(r[c])))];
  const widths = cols.map((_, i) => Math.max(...table.map((r) => (r[i] as string).length)));
  for (const r of table) console.log(r.map((v, i) => v.padEnd(widths[i] as number)).join("  "));
}

function optionOf(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a.startsWith(`${name}=`));
  return hit?.slice(name.length + 1);
}
