import { existsSync, readFileSync } from "node:fs";
import { DAY, ManualClock, parseDuration, systemClock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { runSimulation } from "./driver/run-simulation.js";
import type { SimReport } from "./report.js";
import type { SimTarget } from "./target.js";
import { createHttpTarget } from "./targets/http-target.js";
import { openInProcessTarget } from "./targets/in-process-target.js";
import { createMultiNodeTarget } from "./targets/multi-node-target.js";
import type { Scenario, ScenarioInput } from "./world/scenario.js";
import { builtinScenarios, resolveScenario } from "./world/scenarios.js";

export interface SimulateOptions {
  /** A built-in scenario name or a JSON scenario file. */
  scenario: string;
  /** URL of a running server (loopback only); exclusive with `inProcess`. */
  target?: string;
  inProcess?: boolean;
  /** In process: `fast` (simulated clock, default) or `real`. */
  clock?: "fast" | "real";
  /** Fast clock: simulated days (default: the scenario's `days`). */
  days?: number;
  /** Real time: session arrivals per second (default: the scenario's sessions.perDay / 86,400). */
  rate?: number;
  /** Real time: how long sessions keep arriving, e.g. "30s" (default 30 s). */
  duration?: string;
  /** Real time: how long started sessions may finish after arrivals stop (default 10 s). */
  drain?: string;
  adminKey?: string;
  seed?: number;
  sessionsPerDay?: number;
  /** Real time: divide think times and reward delays by this factor (default 1: realistic delays). */
  speed?: number;
  /** Compute the oracle/popularity/uniform reference CTRs of every request (default true). */
  references?: boolean;
  /** Share of the traffic's duration elapsed, in [0, 1], reported as decisions are served (the CLI's bar). */
  onProgress?: (fraction: number) => void;
}

/** Loads a scenario by built-in name or from a JSON file, with optional overrides. */
export function loadScenario(source: string, overrides: ScenarioInput = {}): Scenario {
  if (Object.hasOwn(builtinScenarios, source)) return resolveScenario(source, overrides);
  if (!existsSync(source)) {
    throw new LoopwiseError(
      "NOT_FOUND",
      `scenario "${source}" is neither a built-in (${Object.keys(builtinScenarios).join(", ")}) nor a file`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(source, "utf8"));
  } catch (e) {
    throw new LoopwiseError("INVALID_JSON", `scenario file ${source}: ${(e as Error).message}`);
  }
  return resolveScenario(parsed as ScenarioInput, overrides);
}

/** `loopwise simulate`: builds the target, runs the scenario, returns the report. */
export async function simulate(o: SimulateOptions): Promise<SimReport> {
  if (Boolean(o.target) === Boolean(o.inProcess)) {
    throw new LoopwiseError("VALIDATION_FAILED", "give exactly one of --target URL or --in-process");
  }
  const overrides: ScenarioInput = {};
  if (o.seed !== undefined) overrides.seed = o.seed;
  if (o.sessionsPerDay !== undefined) overrides.sessions = { perDay: o.sessionsPerDay };
  const scenario = speedUp(loadScenario(o.scenario, overrides), o.speed ?? 1);
  const references = o.references ?? true;
  if (o.inProcess && (o.clock ?? "fast") === "fast") {
    const clock = new ManualClock(Date.UTC(2026, 0, 5));
    const target = await openInProcessTarget(clock, scenario.engine);
    try {
      const durationMs = (o.days ?? scenario.days) * DAY;
      const progress = elapsedShare(clock, durationMs, o.onProgress);
      return await runSimulation({ scenario, target, mode: "fast", clock, durationMs, references, ...progress });
    } finally {
      await target.close();
    }
  }
  const target = o.target ? httpTarget(o.target, o.adminKey) : await openInProcessTarget(systemClock, scenario.engine);
  try {
    return await runSimulation({
      scenario,
      target,
      mode: "realtime",
      clock: systemClock,
      durationMs: parseDuration(o.duration ?? "30s"),
      drainMs: parseDuration(o.drain ?? "10s"),
      ...(o.rate !== undefined ? { rate: o.rate } : {}),
      runId: `r${Date.now().toString(36)}`,
      references,
    });
  } finally {
    await target.close();
  }
}

/** An `onDecision` hook reporting the share of `durationMs` elapsed since now on `clock`. */
function elapsedShare(
  clock: ManualClock,
  durationMs: number,
  onProgress: ((fraction: number) => void) | undefined,
): { onDecision?: () => void } {
  if (!onProgress) return {};
  const start = clock.now();
  return { onDecision: () => onProgress(Math.min(1, (clock.now() - start) / Math.max(1, durationMs))) };
}

/** Compresses a scenario's human delays (think time, click, cart and purchase delays) by `factor`. */
export function speedUp(scenario: Scenario, factor: number): Scenario {
  if (!(factor > 0)) throw new LoopwiseError("VALIDATION_FAILED", `--speed: expected a positive number, got ${factor}`);
  if (factor === 1) return scenario;
  const s = scenario.sessions;
  return {
    ...scenario,
    sessions: {
      ...s,
      thinkTimeSeconds: s.thinkTimeSeconds / factor,
      clickDelaySeconds: s.clickDelaySeconds / factor,
      cartDelaySeconds: s.cartDelaySeconds / factor,
      purchaseDelaySeconds: s.purchaseDelaySeconds / factor,
    },
  };
}

/** A short human-readable summary of a report. */
export function formatReport(r: SimReport): string {
  const lines = [
    `scenario ${r.scenario} on ${r.target} (${r.mode}), seed ${r.seed}: ${r.simulated.days} simulated days in ${r.wallSeconds} s`,
    `sessions ${r.sessions}, requests ${r.requests.total} (${r.requests.perSecond}/s), errors ${r.requests.errors}`,
  ];
  for (const [route, s] of Object.entries(r.requests.byRoute)) {
    const l = s.latencyMs;
    lines.push(
      `  ${route.padEnd(9)} n=${s.count} errors=${s.errors} p50=${l.p50}ms p90=${l.p90}ms p99=${l.p99}ms max=${l.max}ms`,
    );
  }
  for (const p of r.policies) {
    const ref = p.reference
      ? ` | same requests: oracle ${pct(p.reference.oracleCtr)}, context-only oracle ${pct(p.reference.contextOracleCtr)}, popularity ${pct(p.reference.popularityCtr)}, uniform ${pct(p.reference.uniformCtr)}`
      : "";
    lines.push(
      `policy ${p.policyId}: decisions ${p.decisions}, sessions ${p.sessions}, CTR ${pct(p.ctr)} (true ${pct(p.trueCtr)})${ref}`,
      `  conversion ${pct(p.conversion)}, revenue/session ${p.revenuePerSession.toFixed(2)}, purchases ${p.purchases}`,
    );
  }
  if (r.rollout) {
    lines.push(`rollout ${r.rollout.id}:`);
    for (const e of r.rollout.timeline)
      lines.push(`  ${e.at} stage=${e.stage ?? "?"} share=${e.share ?? "?"} ${e.status ?? ""}`);
  }
  if (Object.keys(r.errorsByCode).length > 0) lines.push(`errors by code: ${JSON.stringify(r.errorsByCode)}`);
  if (Object.keys(r.fallbacks).length > 0) lines.push(`fallbacks: ${JSON.stringify(r.fallbacks)}`);
  return lines.join("\n");
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** One server, or several API nodes of one cluster given comma-separated (targets/multi-node-target.ts). */
function httpTarget(urls: string, adminKey: string | undefined): SimTarget {
  const key = adminKey ? { adminKey } : {};
  const list = urls.split(",").map((u) => u.trim());
  return list.length > 1 ? createMultiNodeTarget({ urls: list, ...key }) : createHttpTarget({ url: urls, ...key });
}
