import { DAY, systemClock } from "../core/clock.js";
import { runSimulation } from "./driver/run-simulation.js";
import type { SimReport } from "./report.js";
import { loadScenario } from "./simulate.js";
import type { SimTarget } from "./target.js";
import { createHttpTarget } from "./targets/http-target.js";

export interface DemoOptions {
  /** A server URL (0.0.0.0 / :: are read as this machine's loopback) or a target. */
  target: string | SimTarget;
  /** Session arrivals per second (default 1: a few requests a second, easy to watch). */
  rate?: number;
  /** Built-in scenario name or JSON file (default "default"). */
  scenario?: string;
  adminKey?: string;
  /** Called once the demo has stopped, with what it saw. */
  onReport?: (report: SimReport) => void;
}

/**
 * Starts simulated shoppers against a server in real time and returns the function that stops them (it
 * resolves once in-flight requests finished). Errors never escape: the demo must not take the server down.
 */
export async function startDemo(options: DemoOptions): Promise<() => Promise<void>> {
  const target =
    typeof options.target === "string"
      ? createHttpTarget({
          url: loopbackOf(options.target),
          ...(options.adminKey ? { adminKey: options.adminKey } : {}),
          connections: 8,
        })
      : options.target;
  const scenario = loadScenario(options.scenario ?? "default");
  let stopped = false;
  const run = runSimulation({
    scenario,
    target,
    mode: "realtime",
    clock: systemClock,
    durationMs: 365 * DAY,
    rate: options.rate ?? 1,
    drainMs: 0,
    maxInFlight: 16,
    runId: `demo${Date.now().toString(36)}`,
    stopped: () => stopped,
  })
    .then((report) => options.onReport?.(report))
    .catch(() => undefined);
  return async () => {
    stopped = true;
    await run;
    if (typeof options.target === "string") await target.close();
  };
}

/** A server listening on every interface is reached through loopback. */
export function loopbackOf(url: string): string {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0" || u.hostname === "[::]" || u.hostname === "::") u.hostname = "127.0.0.1";
  return u.toString().replace(/\/$/, "");
}
