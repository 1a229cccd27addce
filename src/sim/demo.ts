import type { Engine } from "../app/engine.js";
import { DAY, systemClock } from "../core/clock.js";
import { runSimulation } from "./driver/run-simulation.js";
import type { SimReport } from "./report.js";
import { loadScenario, speedUp } from "./simulate.js";
import type { SimTarget } from "./target.js";
import { createHttpTarget } from "./targets/http-target.js";

export interface DemoOptions {
  /** A server URL (0.0.0.0 / :: are read as this machine's loopback) or a target. */
  target: string | SimTarget;
  /** Session arrivals per second (default 1: a few requests a second, easy to watch). */
  rate?: number;
  /** Built-in scenario name or JSON file (default "default"). */
  scenario?: string;
  /** Divides the shoppers' think times and reward delays (default 4: a session in about a minute). */
  speed?: number;
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
  const scenario = speedUp(loadScenario(options.scenario ?? "default"), options.speed ?? DEMO_SPEED);
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

/**
 * Shoppers think 4× faster than the scenario's realistic 20 s, so sessions, clicks and purchases (30 s after
 * the view instead of 2 minutes) show within the first minute; `serve --demo` sets a 1-minute reward window,
 * so the first joined rewards and learning appear about a minute in.
 */
export const DEMO_SPEED = 4;

/**
 * `loopwise serve --demo` on a running server: rolls a second policy out against the default, trains the
 * recommender as soon as the first sessions exist, and drives shoppers through the API. Returns the stop.
 */
export async function startDemoOnServer(
  server: { engine: Engine; url: string; adminKey: string },
  options: { rate?: number; trainEveryMs?: number } = {},
): Promise<() => Promise<void>> {
  await startDemoRollout(server.engine);
  const recommender = server.engine.recommender;
  const { logger } = server.engine.parts;
  const stopTraining = recommender ? trainEarly(recommender, logger, options.trainEveryMs) : () => {};
  const stopShoppers = await startDemo({
    target: server.url,
    adminKey: server.adminKey,
    ...(options.rate !== undefined ? { rate: options.rate } : {}),
  });
  logger.info(
    { dashboard: `${loopbackOf(server.url)}/` },
    "demo: shoppers are on their way; the dashboard fills within two minutes (its rollout panel asks for the admin key)",
  );
  return async () => {
    stopTraining();
    await stopShoppers();
  };
}

/**
 * The rollout the demo shows, with holds of minutes instead of a day, so stages, per-arm metrics and
 * guardrails move on the dashboard. Skipped when the data dir already has a rollout (a restarted demo resumes it).
 */
async function startDemoRollout(engine: Engine): Promise<void> {
  const rollouts = engine.parts.rollouts;
  if (!rollouts || (await rollouts.list()).length > 0) return;
  await engine.parts.policies.register({ id: "demo-candidate", type: "epsilon-greedy", params: { epsilon: 0.1 } });
  const plan = { stages: [10, 50, 100], minHold: "3m", minSamplePerArm: 20, opeGate: false };
  await rollouts.start({ candidate: "demo-candidate", incumbent: "default", ...plan });
  engine.parts.logger.info("demo: rolling out policy demo-candidate against default (3-minute stages)");
}

interface Trainable {
  train(): Promise<{ version: string }>;
  holder: { current(): unknown };
}

/**
 * The first recommender model, as soon as the log has a session to learn from: tries every `everyMs` until a
 * model serves (the hourly retrain takes over from there), so the dashboard's model panel and the user
 * lookup's recommendations work within the demo's first minute instead of after an hour.
 */
export function trainEarly(
  recommender: Trainable,
  logger: { info(o: object, msg: string): void },
  everyMs = 5_000,
): () => void {
  let busy = false;
  const attempt = async () => {
    if (busy || recommender.holder.current()) return;
    busy = true;
    try {
      const model = await recommender.train();
      logger.info({ version: model.version }, "demo: trained the first recommender model");
    } catch {
      // Not enough sessions yet: the next attempt will have more.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => {
    if (recommender.holder.current()) clearInterval(timer);
    else void attempt();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A server listening on every interface is reached through loopback. */
export function loopbackOf(url: string): string {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0" || u.hostname === "[::]" || u.hostname === "::") u.hostname = "127.0.0.1";
  return u.toString().replace(/\/$/, "");
}
