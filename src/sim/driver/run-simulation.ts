import type { Clock } from "../../core/clock.js";
import { ManualClock, MINUTE, parseDuration, toIso } from "../../core/clock.js";
import { rngFor } from "../../core/rng.js";
import { Recorder, type RolloutTimelineEntry, type SimReport } from "../report.js";
import type { SimTarget } from "../target.js";
import { drawVisitor } from "../world/population.js";
import type { Scenario } from "../world/scenario.js";
import { cumulativePopularity, nextArrival } from "../world/traffic.js";
import { popularityScores } from "../world/truth.js";
import { World } from "../world/world.js";
import { EventOutbox } from "./event-outbox.js";
import { EventQueue, runFast, runRealtime } from "./scheduler.js";
import { hourOf, type ServedDecision, type SessionEnv, startSession, timed } from "./session-runner.js";

export interface SimulationOptions {
  scenario: Scenario;
  target: SimTarget;
  /** `fast`: a ManualClock shared with an in-process engine jumps from step to step; `realtime`: wall clock. */
  mode: "fast" | "realtime";
  clock: Clock;
  /** How long sessions keep arriving (simulated ms in fast mode, wall ms in real time). */
  durationMs: number;
  /** Session arrivals per second; overrides the scenario's `sessions.perDay`. */
  rate?: number;
  /** Stop arrivals after this many sessions. */
  maxSessions?: number;
  /** Prefix of session, decision and event ids (unique per run against a persistent server). */
  runId?: string;
  /** Compute oracle, popularity and uniform values for every request (exact, costs a little CPU). */
  references?: boolean;
  onDecision?: (d: ServedDecision) => void;
  /** Fast mode: how often the engine's periodic work runs, simulated (default 1 minute). */
  tickEveryMs?: number;
  /** Real time: how long sessions already started may finish after arrivals stop (default 30 s). */
  drainMs?: number;
  /** Real time: bound on concurrent requests (default 64). */
  maxInFlight?: number;
  /** Real time: polled; true ends the run early (the demo's stop). */
  stopped?: () => boolean;
  /** How often the rollout's status is read for the timeline (default 1 h simulated, 5 s real time). */
  rolloutPollMs?: number;
  /** Skip pushing the catalog and registering policies (already done on this target). */
  skipSetup?: boolean;
  /**
   * Fast mode: end the run at the first poll that finds the rollout in a final state (completed, rolled
   * back, halted, aborted) instead of simulating the rest of the scenario's days: the rollout experiments ask
   * what the controller decided, and the traffic after its last decision cannot change it.
   */
  stopWhenRolloutEnds?: boolean;
}

/** The rollout states the controller never leaves (rollout-types.ts TERMINAL_STATUSES, as the API names them). */
const FINAL_ROLLOUT_STATUSES: ReadonlySet<string> = new Set(["completed", "rolled_back", "halted", "aborted"]);

/** Drives a target with the scenario's traffic and reports what it saw. */
export async function runSimulation(o: SimulationOptions): Promise<SimReport> {
  const world = new World(o.scenario);
  const recorder = new Recorder();
  const queue = new EventQueue();
  const runId = o.runId ?? `r${o.scenario.seed}`;
  const startedWall = performance.now();
  if (!o.skipSetup) await setupTarget(o.target, world, recorder);
  const spec = o.skipSetup ? undefined : o.scenario.rollout;
  const delay = spec?.startAfter === undefined ? 0 : parseDuration(spec.startAfter);
  let rollout = delay === 0 ? await startRollout(o, recorder) : undefined;
  // The traffic's duration starts once the catalog and policies are in place (setup takes real time).
  const start = o.clock.now();
  const end = start + o.durationMs;
  const rolloutStartsAt = spec ? start + delay : undefined;

  const now = () => o.clock.now();
  const schedule = (at: number, action: () => Promise<void>) => queue.push(at, action);
  const batchMs = o.scenario.sessions.eventBatchSeconds * 1000;
  const events = new EventOutbox(o.target, recorder, batchMs, schedule, now);
  const env: SessionEnv = {
    world,
    target: o.target,
    recorder,
    events,
    now,
    schedule,
    runId,
    cumulativePopularity: cumulativePopularity(world),
    ...(o.references ? { popularityScores: popularityScores(world) } : {}),
    ...(o.onDecision ? { onDecision: o.onDecision } : {}),
    // Before a delayed rollout starts, its incumbent serves everyone (requests name it).
    ...(spec && delay > 0
      ? { forcedPolicy: (at: number) => (at < start + delay ? spec.incumbent.id : undefined) }
      : {}),
  };
  scheduleArrivals(o, env, queue, end);
  if (rollout) scheduleRolloutPolls(o, rollout, queue, end);
  else if (rolloutStartsAt !== undefined && rolloutStartsAt < end) {
    queue.push(rolloutStartsAt, async () => {
      rollout = await startRollout(o, recorder);
      if (rollout) scheduleRolloutPolls(o, rollout, queue, end);
    });
  }

  if (o.mode === "fast") {
    if (!(o.clock instanceof ManualClock)) throw new Error("fast mode needs a ManualClock shared with the engine");
    const tickEvery = o.tickEveryMs ?? MINUTE;
    if (o.target.tick) scheduleTicks(o.target, recorder, queue, start + tickEvery, tickEvery, end);
    const rolloutEnded = () => FINAL_ROLLOUT_STATUSES.has(String(rollout?.timeline.at(-1)?.status));
    await runFast(queue, o.clock, end, o.stopWhenRolloutEnds ? rolloutEnded : undefined);
  } else {
    await runRealtime(queue, o.clock, {
      until: end + (o.drainMs ?? 30_000),
      maxInFlight: o.maxInFlight ?? 64,
      stopped: o.stopped ?? (() => false),
    });
  }
  await events.flush();
  if (rollout) await pollRollout(o.target, rollout, o.clock.now());
  return buildReport(o, recorder, { start, end: o.clock.now(), startedWall, truncated: queue.size, rollout });
}

async function setupTarget(target: SimTarget, world: World, recorder: Recorder): Promise<void> {
  const items = world.items.map((item) => ({
    id: item.id,
    category: item.categoryName,
    price: item.price,
    features: world.itemFeatures(item),
    available: true,
  }));
  for (let i = 0; i < items.length; i += 500) {
    await timed(recorder, "items", () => target.upsertItems({ items: items.slice(i, i + 500) }));
  }
  const specs = [...world.scenario.policies];
  if (world.scenario.rollout) specs.push(world.scenario.rollout.incumbent, world.scenario.rollout.candidate);
  for (const spec of specs) await timed(recorder, "policies", () => target.registerPolicy(spec));
}

function scheduleArrivals(o: SimulationOptions, env: SessionEnv, queue: EventQueue, end: number): void {
  const rng = rngFor("sim-arrivals", String(o.scenario.seed));
  const perDay = o.rate !== undefined ? o.rate * 86_400 : o.scenario.sessions.perDay;
  // The hour-of-day shape belongs to simulated days; a real-time run (minutes long) arrives at its rate.
  const daily = o.mode !== "realtime";
  let index = 0;
  const arrive = (at: number) => {
    if (at >= end || (o.maxSessions !== undefined && index >= o.maxSessions)) return;
    queue.push(at, () => {
      const user = drawVisitor(env.world.population, hourOf(at), o.scenario.users.hourConcentration, rng);
      startSession(env, index, user, rngFor("sim-session", `${o.scenario.seed}:${index}`));
      index++;
      arrive(nextArrival(at, perDay, rng, daily));
    });
  };
  // In real time the first visitor comes at once, so a demo shows traffic immediately.
  arrive(o.mode === "realtime" ? o.clock.now() : nextArrival(o.clock.now(), perDay, rng));
}

/** The engine's periodic work on the simulated clock; a failing tick is counted, never ends the run. */
function scheduleTicks(
  target: SimTarget,
  recorder: Recorder,
  queue: EventQueue,
  at: number,
  every: number,
  end: number,
): void {
  if (at > end) return;
  queue.push(at, async () => {
    await timed(recorder, "tick", async () => target.tick?.());
    scheduleTicks(target, recorder, queue, at + every, every, end);
  });
}

interface RolloutTracking {
  id: string;
  timeline: RolloutTimelineEntry[];
  final?: Record<string, unknown>;
}

async function startRollout(o: SimulationOptions, recorder: Recorder): Promise<RolloutTracking | undefined> {
  const spec = o.scenario.rollout;
  if (!spec || !o.target.startRollout) return undefined;
  // A salt from the scenario's seed: rollout ids are random per process, and the id would otherwise salt the
  // users' arms, so the same seed would split users differently from one run to the next.
  const salt = `sim-${o.scenario.seed}`;
  const body = { candidate: spec.candidate.id, incumbent: spec.incumbent.id, salt, ...spec.plan };
  const started = await timed(recorder, "rollouts", () => o.target.startRollout?.(body) ?? Promise.resolve(undefined));
  if (!started) return undefined;
  const tracking: RolloutTracking = { id: started.id, timeline: [] };
  // Read it back so every timeline entry has the same shape (the API's view, not the creation record).
  const view = await o.target.getRollout?.(started.id).catch(() => undefined);
  record(tracking, view ?? started, o.clock.now());
  return tracking;
}

function scheduleRolloutPolls(o: SimulationOptions, r: RolloutTracking, queue: EventQueue, end: number): void {
  const every = o.rolloutPollMs ?? (o.mode === "fast" ? 60 * MINUTE : 5_000);
  const poll = (at: number) => {
    if (at > end) return;
    queue.push(at, async () => {
      await pollRollout(o.target, r, o.clock.now());
      poll(at + every);
    });
  };
  poll(o.clock.now() + every);
}

async function pollRollout(target: SimTarget, r: RolloutTracking, now: number): Promise<void> {
  try {
    const status = await target.getRollout?.(r.id);
    if (status) record(r, status, now);
  } catch {
    // A failed poll only leaves a gap in the timeline.
  }
}

/** Appends a timeline entry when the stage, share or status changed. */
function record(r: RolloutTracking, status: Record<string, unknown>, now: number): void {
  const entry: RolloutTimelineEntry = { at: toIso(now) };
  // `stage` is the candidate percentage in the API's view; a bare rollout record has only its index.
  const stage = status.stage ?? status.stageIndex;
  if (typeof stage === "number") entry.stage = stage;
  if (typeof status.status === "string") entry.status = status.status;
  const share = status.candidateShare ?? status.share;
  if (typeof share === "number") entry.share = share;
  const last = r.timeline[r.timeline.length - 1];
  if (!last || last.stage !== entry.stage || last.status !== entry.status || last.share !== entry.share) {
    r.timeline.push(entry);
  }
  r.final = status;
}

function buildReport(
  o: SimulationOptions,
  recorder: Recorder,
  run: { start: number; end: number; startedWall: number; truncated: number; rollout: RolloutTracking | undefined },
): SimReport {
  const wallSeconds = (performance.now() - run.startedWall) / 1000;
  const routes = recorder.routeReports();
  const report: SimReport = {
    scenario: o.scenario.name,
    target: o.target.kind,
    mode: o.mode,
    seed: o.scenario.seed,
    simulated: {
      from: toIso(run.start),
      to: toIso(run.end),
      days: Math.round(((run.end - run.start) / 86_400_000) * 1000) / 1000,
    },
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    sessions: recorder.sessions,
    requests: { ...routes, perSecond: Math.round((routes.total / Math.max(wallSeconds, 1e-9)) * 10) / 10 },
    errorsByCode: recorder.errorsByCode,
    fallbacks: recorder.fallbacks,
    policies: recorder.policyReports(),
    truncatedSteps: run.truncated,
  };
  if (run.rollout) {
    report.rollout = {
      id: run.rollout.id,
      timeline: run.rollout.timeline,
      ...(run.rollout.final ? { final: run.rollout.final } : {}),
    };
  }
  return report;
}
