import { createWriteStream, existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { parquetWriteFile } from "hyparquet-writer";
import { loadConfig } from "../../app/config.js";
import { joinConfigOf } from "../../app/engine.js";
import { parseTime, toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import { type SlotRow, slotRows } from "../../decisions/export-rows.js";
import { joinRewards } from "../../decisions/reward-join.js";
import { SqliteStore } from "../../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../../storage/sqlite/decision-store-sqlite.js";
import { SqliteEventLog } from "../../storage/sqlite/event-log-sqlite.js";

interface LogOptions {
  dataDir?: string;
  config?: string;
  from?: string;
  to?: string;
}

export function register(program: Command): void {
  const log = program.command("log").description("read the decision log");
  log
    .command("export")
    .description("export decisions with their joined rewards (jsonl: one decision a line; parquet: one slot a row)")
    .option("-f, --format <format>", "jsonl | parquet", "jsonl")
    .option("-o, --out <file>", "output file (required for parquet; jsonl defaults to stdout)")
    .option("--from <time>", "first decision time (ISO-8601 or epoch ms), inclusive")
    .option("--to <time>", "last decision time (ISO-8601 or epoch ms), exclusive")
    .option("-d, --data-dir <dir>", "data directory (default ./data or LOOPWISE_DATA_DIR)")
    .option("-c, --config <file>", "config file, for the reward join settings (default ./loopwise.config.json)")
    .action(async (opts: LogOptions & { format: string; out?: string }) => {
      if (opts.format !== "jsonl" && opts.format !== "parquet")
        throw new LoopwiseError("VALIDATION_FAILED", `--format must be jsonl or parquet, got "${opts.format}"`);
      if (opts.format === "parquet" && !opts.out)
        throw new LoopwiseError("VALIDATION_FAILED", "--out FILE is required for --format parquet");
      await withLog(opts, async ({ decisions, range, join, now }) => {
        if (opts.format === "jsonl") return exportJsonl(decisions, range, join, now, opts.out);
        const rows: SlotRow[] = [];
        for await (const batch of decisions.scan(range))
          for (const entry of batch) rows.push(...slotRows(entry, join, now));
        writeParquet(rows, opts.out as string);
        process.stderr.write(`wrote ${rows.length} slot rows to ${opts.out}\n`);
      });
    });
  log
    .command("stats")
    .description("counts, policies, join outcomes and rewards of the decision log")
    .option("--from <time>", "first decision time, inclusive")
    .option("--to <time>", "last decision time, exclusive")
    .option("--format <format>", "table | json", "table")
    .option("-d, --data-dir <dir>", "data directory")
    .option("-c, --config <file>", "config file, for the reward join settings")
    .action(async (opts: LogOptions & { format: string }) => {
      await withLog(opts, async ({ decisions, events, range, join, now }) => {
        const stats = { events: await events.count(), ...(await logStats(decisions, range, join, now)) };
        if (opts.format === "json") process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
        else process.stdout.write(formatStats(stats));
      });
    });
}

type Ctx = {
  decisions: SqliteDecisionStore;
  events: SqliteEventLog;
  range: { from?: number; to?: number };
  join: ReturnType<typeof joinConfigOf>;
  now: number;
};

async function withLog(opts: LogOptions, fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const config = loadConfig({ file: opts.config, env: process.env, flags: { dataDir: opts.dataDir } });
  const path = join(config.dataDir, "loopwise.db");
  if (!existsSync(path))
    throw new LoopwiseError("NOT_FOUND", `no decision log at ${path} (start the server first, or pass --data-dir)`);
  // Reading tools write nothing on the hot path: no writer thread.
  const store = new SqliteStore(path, { writer: "inline" });
  try {
    const range = { from: timeOption("--from", opts.from), to: timeOption("--to", opts.to) };
    await fn({
      decisions: new SqliteDecisionStore(store),
      events: new SqliteEventLog(store),
      range,
      join: joinConfigOf(config),
      now: Date.now(),
    });
  } finally {
    await store.close();
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

async function exportJsonl(
  decisions: SqliteDecisionStore,
  range: Ctx["range"],
  join: Ctx["join"],
  now: number,
  out?: string,
): Promise<void> {
  const stream: NodeJS.WritableStream = out ? createWriteStream(out) : process.stdout;
  let n = 0;
  for await (const batch of decisions.scan(range)) {
    for (const entry of batch) {
      const joined = joinRewards(entry, join, now);
      const line = {
        ...entry.decision,
        timestamp: toIso(entry.decision.timestamp),
        rewards: entry.rewards,
        join: joined,
      };
      if (!stream.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((r) => stream.once("drain", () => r()));
      n++;
    }
  }
  if (out) {
    await new Promise<void>((resolve) => stream.end(() => resolve()));
    process.stderr.write(`wrote ${n} decisions to ${out}\n`);
  }
}

function writeParquet(rows: SlotRow[], filename: string): void {
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
  decisions: SqliteDecisionStore,
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
