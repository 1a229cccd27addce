import { createWriteStream } from "node:fs";
import type { Command } from "commander";
import { parseTime, toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import type { DecisionWithRewards } from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import type { SlotRow } from "../../decisions/export-rows.js";
import type { JoinConfig } from "../../decisions/join-config.js";
import { joinRewards } from "../../decisions/reward-join.js";
import type { EventLog } from "../../events/event-log.js";
import { openCliLog } from "../open-log.js";
import { type DataDirOptions, loadCliConfig, withDataDir } from "../options.js";
import { type Progress, withProgress } from "../progress.js";

/** `loopwise log export|stats`: the decision log in the data dir (./data by default), read without a server. */
interface LogOptions extends DataDirOptions {
  from?: string;
  to?: string;
}

export function register(program: Command): void {
  const log = program.command("log").description("read the decision log");
  withDataDir(
    log
      .command("export")
      .description(
        "export decisions with their joined rewards (jsonl: one decision a line; parquet: one slot a row; dsjson: one shown slot a line, as Personalizer exported)",
      )
      .option("-f, --format <format>", "jsonl | parquet | dsjson", "jsonl")
      .option("-o, --out <file>", "output file (required for parquet; jsonl defaults to stdout)")
      .option("--from <time>", "first decision time (ISO-8601 or epoch ms), inclusive")
      .option("--to <time>", "last decision time (ISO-8601 or epoch ms), exclusive"),
  ).action(async (opts: LogOptions & { format: string; out?: string }) => {
    const format = opts.format;
    if (format !== "jsonl" && format !== "parquet" && format !== "dsjson")
      throw new LoopwiseError("VALIDATION_FAILED", `--format must be jsonl, parquet or dsjson, got "${format}"`);
    if (format === "parquet" && !opts.out)
      throw new LoopwiseError("VALIDATION_FAILED", "--out FILE is required for --format parquet");
    await withLog(opts, async (ctx) => {
      const total = await ctx.decisions.count(ctx.range);
      await withProgress("export", async (progress) => {
        if (format !== "parquet") return exportLines(format, ctx, total, progress, opts.out);
        const { slotRows } = await import("../../decisions/export-rows.js");
        const rows: SlotRow[] = [];
        let seen = 0;
        for await (const batch of ctx.decisions.scan(ctx.range)) {
          for (const entry of batch) rows.push(...slotRows(entry, ctx.join, ctx.now));
          seen += batch.length;
          progress.update(seen / Math.max(1, total));
        }
        await writeParquet(rows, opts.out as string);
        progress.stop();
        process.stderr.write(`wrote ${rows.length} slot rows to ${opts.out}\n`);
      });
    });
  });
  withDataDir(
    log
      .command("stats")
      .description("counts, policies, join outcomes and rewards of the decision log")
      .option("--from <time>", "first decision time (ISO-8601 or epoch ms), inclusive")
      .option("--to <time>", "last decision time (ISO-8601 or epoch ms), exclusive")
      .option("--format <format>", "table | json", "table"),
  ).action(async (opts: LogOptions & { format: string }) => {
    await withLog(opts, async ({ decisions, events, range, join, now }) => {
      const stats = { events: await events.count(), ...(await logStats(decisions, range, join, now)) };
      if (opts.format === "json") process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
      else process.stdout.write(formatStats(stats));
    });
  });
}

type Ctx = {
  decisions: DecisionStore;
  events: EventLog;
  range: { from?: number; to?: number };
  join: JoinConfig;
  now: number;
};

async function withLog(opts: LogOptions, fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const config = await loadCliConfig(opts);
  const { joinConfigOf } = await import("../../app/engine.js");
  const log = await openCliLog(config);
  try {
    const range = { from: timeOption("--from", opts.from), to: timeOption("--to", opts.to) };
    await fn({
      decisions: log.decisions,
      events: log.events,
      range,
      join: joinConfigOf(config),
      now: Date.now(),
    });
  } finally {
    await log.close();
  }
}

function timeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = parseTime(/^\d+$/.test(value) ? Number(value) : value);
  if (t === undefined)
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `${name} must be an ISO-8601 time or epoch milliseconds, got "${value}"`,
    );
  return t;
}

/** JSON lines: one decision a line (`jsonl`), or one shown slot a line as DSJSON (`dsjson`). */
async function exportLines(
  format: "jsonl" | "dsjson",
  ctx: Ctx,
  total: number,
  progress: Progress,
  out?: string,
): Promise<void> {
  const { decisionJsonRecord } = await import("../../decisions/export-rows.js");
  const { dsjsonLines } = await import("../../decisions/export-dsjson.js");
  const linesOf = (entry: DecisionWithRewards) =>
    format === "jsonl"
      ? [JSON.stringify(decisionJsonRecord(entry, ctx.join, ctx.now))]
      : dsjsonLines(entry, ctx.join, ctx.now);
  const stream: NodeJS.WritableStream = out ? createWriteStream(out) : process.stdout;
  let n = 0;
  for await (const batch of ctx.decisions.scan(ctx.range)) {
    for (const entry of batch) {
      for (const line of linesOf(entry)) {
        if (!stream.write(`${line}\n`)) await new Promise<void>((r) => stream.once("drain", () => r()));
      }
      n++;
    }
    progress.update(n / Math.max(1, total));
  }
  if (out) {
    await new Promise<void>((resolve) => stream.end(() => resolve()));
    progress.stop();
    process.stderr.write(`wrote ${n} decisions to ${out}\n`);
  }
}

async function writeParquet(rows: SlotRow[], filename: string): Promise<void> {
  const { parquetWriteFile } = await import("hyparquet-writer");
  const col = <K extends keyof SlotRow>(name: K, type: string) => ({ name, data: rows.map((r) => r[name]), type });
  parquetWriteFile({
    filename,
    columnData: [
      col("decision_id", "STRING"),
      { name: "timestamp", data: rows.map((r) => BigInt(r.timestamp)), type: "TIMESTAMP" },
      col("user_id", "STRING"),
      col("session_id", "STRING"),
      col("policy_id", "STRING"),
      col("policy_type", "STRING"),
      col("policy_version", "INT32"),
      col("position", "INT32"),
      col("item_id", "STRING"),
      col("action_index", "INT32"),
      col("n_candidates", "INT32"),
      col("propensity", "DOUBLE"),
      col("reward", "DOUBLE"),
      col("join_status", "STRING"),
      col("activated", "BOOLEAN"),
      col("candidate_source", "STRING"),
      col("rollout_id", "STRING"),
      col("rollout_arm", "STRING"),
      col("context_json", "JSON"),
      col("features_json", "JSON"),
      col("candidates_json", "JSON"),
      col("probabilities_json", "JSON"),
    ] as Parameters<typeof parquetWriteFile>[0]["columnData"],
  });
}

export interface LogStats {
  decisions: number;
  first?: string;
  last?: string;
  activated: number;
  slots: number;
  joinStatus: Record<string, number>;
  rewards: number;
  lateRewards: number;
  policies: Record<string, { decisions: number; resolvedSlots: number; meanSlotReward: number | null }>;
}

export async function logStats(
  decisions: DecisionStore,
  range: Ctx["range"],
  join: Ctx["join"],
  now: number,
): Promise<LogStats> {
  const stats: LogStats = {
    decisions: 0,
    activated: 0,
    slots: 0,
    joinStatus: {},
    rewards: 0,
    lateRewards: 0,
    policies: {},
  };
  const sums: Record<string, number> = {};
  for await (const batch of decisions.scan(range)) {
    for (const entry of batch) {
      const d = entry.decision;
      stats.decisions++;
      stats.first ??= toIso(d.timestamp);
      stats.last = toIso(d.timestamp);
      if (d.activated) stats.activated++;
      stats.rewards += entry.rewards.length;
      const joined = joinRewards(entry, join, now);
      stats.lateRewards += joined.lateRewards;
      const key = `${d.policy.id}@${d.policy.version}`;
      stats.policies[key] ??= { decisions: 0, resolvedSlots: 0, meanSlotReward: null };
      const p = stats.policies[key];
      p.decisions++;
      for (const slot of joined.slots) {
        stats.slots++;
        stats.joinStatus[slot.status] = (stats.joinStatus[slot.status] ?? 0) + 1;
        if (slot.reward === undefined) continue;
        p.resolvedSlots++;
        sums[key] = (sums[key] ?? 0) + slot.reward;
      }
    }
  }
  for (const [key, p] of Object.entries(stats.policies))
    p.meanSlotReward = p.resolvedSlots > 0 ? (sums[key] ?? 0) / p.resolvedSlots : null;
  return stats;
}

function formatStats(s: LogStats & { events: number }): string {
  const lines = [
    `events            ${s.events}`,
    `decisions         ${s.decisions}${s.first ? `  (${s.first} .. ${s.last})` : ""}`,
    `activated         ${s.activated}`,
    `slots shown       ${s.slots}`,
    `join status       ${
      Object.entries(s.joinStatus)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "-"
    }`,
    `rewards stored    ${s.rewards} (late: ${s.lateRewards})`,
    "policy@version    decisions  resolved slots  mean slot reward",
    ...Object.entries(s.policies).map(
      ([k, p]) =>
        `${k.padEnd(18)}${String(p.decisions).padStart(9)}  ${String(p.resolvedSlots).padStart(14)}  ${p.meanSlotReward === null ? "-" : p.meanSlotReward.toFixed(4)}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}
