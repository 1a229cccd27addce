import type { Command } from "commander";
import { LoopwiseError } from "../../core/errors.js";
import { resolveServer, type ServerOptions, withDataDir } from "../options.js";
import { withProgress } from "../progress.js";

/**
 * `loopwise simulate`: drives a Loopwise with the simulated shop (src/sim/) and reports requests, errors,
 * latency percentiles and per-policy CTR, conversion and revenue per session (plus the rollout timeline).
 *   loopwise simulate --target http://127.0.0.1:8080 --rate 5 --duration 30s --format json
 *   loopwise simulate --scenario rollout-bad --in-process --clock fast --days 14
 * The scenario defaults to `default`.
 */
export function register(program: Command): void {
  const command = program
    .command("simulate")
    .description("drive a Loopwise with simulated shoppers whose true preferences are known")
    .option(
      "--scenario <name|file>",
      "built-in scenario (default, rollout-good, rollout-equal, rollout-bad, rollout-gate-bad, rollout-gate-good) or JSON file",
      "default",
    )
    .option(
      "--target <url>",
      "a running server (loopback only), e.g. http://127.0.0.1:8080; several API nodes of one cluster comma-separated (rewards go to a node that did not serve)",
    )
    .option("--in-process", "run an engine in this process (memory storage)")
    .option("--clock <fast|real>", "in process: simulated clock (fast) or wall clock", "fast")
    .option("--days <n>", "fast clock: simulated days (default: the scenario's, 14)", number)
    .option("--rate <n>", "real time: session arrivals per second", number)
    .option("--duration <d>", "real time: how long sessions keep arriving (e.g. 30s, 5m)", "30s")
    .option("--drain <d>", "real time: how long started sessions may finish afterwards", "10s")
    .option("--speed <n>", "real time: divide think times and reward delays by n (default 1, realistic)", number)
    .option("--sessions-per-day <n>", "override the scenario's sessions per day", number)
    .option("--seed <n>", "override the scenario's seed", number)
    .option(
      "--admin-key <key>",
      "admin key for the target's admin routes (default env LOOPWISE_ADMIN_KEY, the config's, or <data-dir>/admin-key)",
    )
    .option("--no-references", "skip computing oracle/popularity/uniform CTRs of each request")
    .option("--format <text|json>", "output format", "text");
  withDataDir(command).action(async (opts: Record<string, unknown>) => {
    const clock = opts.clock === "real" ? "real" : opts.clock === "fast" ? "fast" : undefined;
    if (!clock)
      throw new LoopwiseError("VALIDATION_FAILED", `--clock: expected fast or real, got ${String(opts.clock)}`);
    // Against a server: its admin key, found as `loopwise rollout` finds it (the demo's rollout routes need it).
    const adminKey = opts.target ? await adminKeyFor(opts) : undefined;
    const { formatReport, simulate } = await import("../../sim/simulate.js");
    const report = await withProgress("simulate", (progress) =>
      simulate({
        scenario: opts.scenario as string,
        ...(opts.target ? { target: opts.target as string } : {}),
        inProcess: Boolean(opts.inProcess),
        clock,
        ...(opts.days !== undefined ? { days: opts.days as number } : {}),
        ...(opts.rate !== undefined ? { rate: opts.rate as number } : {}),
        duration: opts.duration as string,
        drain: opts.drain as string,
        ...(opts.sessionsPerDay !== undefined ? { sessionsPerDay: opts.sessionsPerDay as number } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed as number } : {}),
        ...(opts.speed !== undefined ? { speed: opts.speed as number } : {}),
        ...(adminKey ? { adminKey } : {}),
        references: opts.references !== false,
        onProgress: (f) => progress.update(f),
      }),
    );
    process.stdout.write(opts.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  });
}

async function adminKeyFor(opts: Record<string, unknown>): Promise<string | undefined> {
  const { adminKey, dataDir, config } = opts as { adminKey?: string } & ServerOptions;
  return adminKey ?? (await resolveServer({ dataDir, config })).apiKey;
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new LoopwiseError("VALIDATION_FAILED", `expected a non-negative number, got "${value}"`);
  return n;
}
