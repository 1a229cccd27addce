import { randomBytes } from "node:crypto";
import { type Logger, pino } from "pino";
import type { BasePolicy } from "../bandit/base-policy.js";
import type { Policy } from "../bandit/policy.js";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import { DEFAULT_POLICY_SPEC } from "../bandit/policy-types.js";
import { type Clock, systemClock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import type { LogRetention } from "../decisions/log-retention.js";
import type { StreamAdapters } from "../duties/duty.js";
import { LogRetentionRunner } from "../duties/log-retention.js";
import type { EventLog } from "../events/event-log.js";
import type { FeatureStore } from "../features/feature-store.js";
import { rebuildFeatureStore } from "../features/rebuild-feature-store.js";
import { createMemoryFeatureStore } from "../storage/memory/feature-store-memory.js";
import { createRedisFeatureStore } from "../storage/redis/feature-store-redis.js";
import { connectRedis } from "../storage/redis/redis-connection.js";
import { auditedRolloutStore } from "./audit-log.js";
import { type ConfigInput, type LoopwiseConfig, parseConfig } from "./config.js";
import { DashboardDuties } from "./dashboard-duties.js";
import { EngineEvents } from "./engine-events.js";
import type { EngineParts } from "./engine-parts.js";
import { defaultPolicyResolver } from "./evaluate.js";
import { registerFeatureStoreMetrics } from "./feature-store-metrics.js";
import { type IngestResult, ingestEvents, type UpsertItemsResult, upsertItems } from "./ingest.js";
import { PendingEffects } from "./ingest-effects.js";
import { LearningLoop } from "./learning.js";
import { LogRetentionTimer } from "./log-retention-timer.js";
import { type LogLocation, type LogStores, logLocationOf, openLogStores } from "./log-stores.js";
import { registerLogWriterMetrics } from "./log-writer-metrics.js";
import { EngineMetrics } from "./metrics.js";
import { defaultPolicyOf, type RankResult, rank } from "./rank.js";
import { EngineRecommender } from "./recommender.js";
import { type ActivateResult, activate, type RewardResult, reward } from "./reward.js";
import { RolloutController } from "./rollout-controller.js";
import { RolloutFollower } from "./rollout-follower.js";
import { createOpeGate } from "./rollout-ope-gate.js";
import { followPublishedState } from "./scale-out-serving.js";
import { ServingOnlyLearning } from "./serving-only-learning.js";
import { openStreamAdapters } from "./stream-adapters.js";
import {
  createStreamPublisher,
  noStreamPublisher,
  PublishingDecisionStore,
  PublishingEventLog,
} from "./stream-publisher.js";
import { type WarmStartRange, type WarmStartResult, warmStart } from "./warm-start.js";
import { type WarmStartOutcome, warmStartIsolated } from "./warm-start-isolated.js";

export interface EngineOptions {
  /** A validated config, or partial input validated here. */
  config?: LoopwiseConfig | ConfigInput;
  clock?: Clock;
  /** Overrides config.dataDir; ":memory:" keeps everything in memory (tests, fast simulations). */
  dataDir?: string;
  logger?: Logger;
  /**
   * The decision stream, leases and snapshots to run on; any left out are opened from the config
   * (app/stream-adapters.ts: Redis when storage.redisUrl is set, else in-process). Given ones stay the caller's
   * to close.
   */
  adapters?: Partial<StreamAdapters>;
}

/**
 * The engine: the loop's use-cases over one set of adapters. HTTP routes, the CLI and the simulator's
 * in-process mode all call these methods, with the same bodies and responses as the v1 API.
 */
export class Engine {
  private timer: NodeJS.Timeout | undefined;
  /** Ticks not yet resolved (`tick`): close() waits for them before it saves and closes the parts. */
  private readonly ticking = new Set<Promise<void>>();
  private generatedAdminKey: string | undefined;

  constructor(
    readonly parts: EngineParts,
    private readonly closers: (() => Promise<void>)[],
    readonly recommender?: EngineRecommender,
    private readonly storage: Pick<LogStores, "health" | "waitForMoreWrites"> = {
      health: () => ({ ok: true }),
      waitForMoreWrites: () => {},
    },
  ) {}

  /** Ok while acknowledged writes can be committed; false with the reason when the log writer died. */
  health(): { ok: boolean; reason?: string } {
    return this.storage.health();
  }

  /**
   * Tells the log writer when more writes may come before those posted are acknowledged, so its group commit
   * delay (config storage.groupCommitMs) waits only then (the HTTP server: while some connection is not waiting
   * on a request). Without it, the delay never holds a write.
   */
  waitForMoreWrites(moreMayCome: () => boolean): void {
    this.storage.waitForMoreWrites(moreMayCome);
  }

  get config(): LoopwiseConfig {
    return this.parts.config;
  }
  get clock(): Clock {
    return this.parts.clock;
  }
  get metrics(): EngineMetrics {
    return this.parts.metrics;
  }
  /** The admin API key: configured, or a random one for this engine's life (admin routes stay closed). */
  get adminKey(): string {
    this.generatedAdminKey ??= this.parts.config.adminKey ?? `lw_admin_${randomBytes(18).toString("base64url")}`;
    return this.generatedAdminKey;
  }
  get decisions(): DecisionStore {
    return this.parts.decisions;
  }
  /** Where worker threads (evaluations, warm starts) open the decision log: SQLite file or PostgreSQL. */
  get logLocation(): LogLocation {
    return logLocationOf(this.parts.config, this.parts.config.dataDir);
  }

  ingestEvents(body: unknown): Promise<IngestResult> {
    return ingestEvents(this.parts, body);
  }
  upsertItems(body: unknown): Promise<UpsertItemsResult> {
    return upsertItems(this.parts, body);
  }
  rank(body: unknown): Promise<RankResult> {
    return rank(this.parts, body);
  }
  reward(decisionId: string, body: unknown): Promise<RewardResult> {
    return reward(this.parts, decisionId, body);
  }
  activate(decisionId: string): Promise<ActivateResult> {
    return activate(this.parts, decisionId);
  }
  /** Trains a policy on the decision log before it serves (app/warm-start.ts), in this thread. */
  warmStart(policy: Policy, range?: WarmStartRange): Promise<WarmStartResult> {
    const { decisions, config, clock } = this.parts;
    return warmStart({ decisions, joinConfig: joinConfigOf(config), clock }, policy, range);
  }

  /**
   * The same in a worker thread when the log is on disk (app/warm-start-isolated.ts): resolves with the
   * trained policy, a copy of the one given, to register in its place.
   */
  warmStartIsolated(policy: BasePolicy, range?: WarmStartRange): Promise<WarmStartOutcome> {
    const { decisions, config, clock } = this.parts;
    const context = {
      ...this.logLocation,
      decisions,
      joinConfig: joinConfigOf(config),
      clock,
      timeLimitMs: config.evaluations.timeLimit,
    };
    return warmStartIsolated(context, policy, range);
  }

  /** Periodic work, now: close reward windows (default rewards), and whatever parts need on a clock. */
  tick(): Promise<void> {
    const run = this.tickNow();
    this.ticking.add(run);
    const done = () => this.ticking.delete(run);
    run.then(done, done);
    return run;
  }

  private async tickNow(): Promise<void> {
    const now = this.parts.clock.now();
    // The event loop serves between slices (at most 2 ms a turn). Started, not awaited first: while windows end
    // faster than the turns left between requests close them, a pass runs on (each tick moves its watermark),
    // and the rollout controller's and dashboard's ticks, which do not read the learning windows, must not wait
    // behind it. `tick()` resolves once the pass it started or joined is done (awaited in `finally`: a failed
    // rollout tick leaves no close pass unobserved).
    const closing = this.parts.learning.closeWindowsInSlices(now);
    // Observed at once: a pass that fails while the awaits below are pending would otherwise be an unhandled
    // rejection (the process's default is to exit); `await closing` in `finally` still throws its error.
    closing.catch(() => {});
    try {
      const decided = await this.parts.rollouts?.tick(now);
      this.recommender?.tick();
      this.parts.retentionTimer?.tick(now); // in the background: a pass spans many writer ops
      await this.parts.dashboard?.tick(now, decided, (id) => this.parts.rollouts?.stats(id));
    } finally {
      await closing;
    }
  }

  /**
   * Runs `tick` every `config.tickInterval` (the server does; fast simulations call tick themselves), in the
   * embedded mode only: with roles or Redis, the duties run under leases in a DutyRunner instead (issue 13).
   */
  start(): void {
    if (this.timer || !runsInProcessDuties(this.parts.config)) return;
    this.timer = setInterval(() => {
      this.tick().catch((err) => this.parts.logger.error({ err }, "tick failed"));
    }, this.parts.config.tickInterval);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // A tick's window close pass runs over many turns (at most 16 windows or 2 ms a turn): what it learns after
    // the policies' last save would be lost, and its rollout and dashboard ticks would write to closed stores. So
    // the ticks in flight finish first (their failures were the tick's caller's to see).
    await Promise.allSettled([...this.ticking]);
    for (const close of [...this.closers].reverse()) await close();
  }
}

/** The composition root for one process: picks the adapters from the config. */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const config = parseConfig(options.config ?? {});
  const dataDir = options.dataDir ?? config.dataDir;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  const metrics = new EngineMetrics();
  // SQLite in the data dir, or PostgreSQL when storage.postgresUrl (LOOPWISE_POSTGRES_URL) is set.
  const stores = await openLogStores(config, logLocationOf(config, dataDir));
  registerLogWriterMetrics(metrics.registry, () => stores.writerStats());
  const replay = stores.journalReplay;
  if (replay && replay.segments > 0) {
    // Decisions acknowledged by an earlier run and not committed before it stopped (a crash): now in the log.
    logger[replay.torn > 0 ? "warn" : "info"](replay, "replayed the decision journal of an earlier run into the log");
  }
  const policies = await openPolicies(config, stores.policies, clock);
  const outdated = policies.outdatedDefault();
  if (outdated) {
    logger.info(
      { running: outdated, productDefault: DEFAULT_POLICY_SPEC },
      'policy "default" was registered by an earlier version and keeps its spec and learning; this version\'s product default differs (src/bandit/README.md): register it under another id, evaluate it offline and roll it out to adopt it',
    );
  }
  const stream = openStreamAdapters(config, clock, options.adapters);
  // Closers run in reverse: the stores flush (their last writes publish) before the stream closes.
  const closers: (() => Promise<void>)[] = [() => stream.close(), () => stores.close()];
  const publisher = publishesToStream(config)
    ? createStreamPublisher(stream.adapters.stream, metrics.registry, logger)
    : noStreamPublisher;
  // Every durable write is appended to the stream from one hook (app/stream-publisher.ts); embedded: as is.
  const decisions =
    publisher === noStreamPublisher ? stores.decisions : new PublishingDecisionStore(stores.decisions, publisher);
  const events = publisher === noStreamPublisher ? stores.events : new PublishingEventLog(stores.events, publisher);
  const features = await openFeatureStore(config, clock, events, logger, closers, metrics);
  // Scale-out: the trainer duty trains and publishes models that every node follows; a node's own timer would
  // serve a model of its own until the next publication replaced it.
  const recommender = await EngineRecommender.open(config, dataDir, events, clock, logger, {
    retrainsLocally: !publishesToStream(config),
  });
  closers.push(() => recommender.close());
  closers.push(() => policies.close());
  const audit = stores.audit;
  // Scale-out: rank routes from a copy of the rollout store reloaded every rollouts.refreshEvery; the rollout
  // duty's lease holder counts and moves stages (duties/rollout-duty.ts).
  const embedded = runsInProcessDuties(config);
  const opeGate = createOpeGate(
    { decisions, joinConfig: joinConfigOf(config), clock, resolvePolicy: defaultPolicyResolver(policies) },
    config.rollouts.opeGateLookback,
  );
  const follower = embedded
    ? undefined
    : await RolloutFollower.open(stores.rollouts, clock, { refreshEveryMs: config.rollouts.refreshEvery });
  const rollouts = await RolloutController.open({
    ...(follower ? { follower } : {}),
    // Transitions the controller makes on its own also go to the audit timeline (app/audit-log.ts).
    store: auditedRolloutStore(stores.rollouts, audit),
    clock,
    // A candidate that survived every stage becomes the default policy.
    onPromote: async (rollout) => policies.setDefault(rollout.candidate),
    isPolicy: (id) => policies.find(id) !== undefined,
    defaultPolicy: () => defaultPolicyOf({ policies, config }),
    opeGate,
  });
  closers.push(() => rollouts.flush());
  const emitter = new EngineEvents(logger);
  const dashboard = await DashboardDuties.open(
    { minutes: stores.minutes, audit, emitter, config, ...(embedded ? {} : { shared: { logger, clock } }) },
    clock.now(),
  );
  closers.push(() => dashboard.close(clock.now()));
  const parts: EngineParts = {
    config: { ...config, dataDir },
    clock,
    logger,
    metrics,
    events,
    features,
    rollouts,
    recommender: recommender.holder,
    decisions,
    catalog: stores.catalog,
    policies,
    policyStore: stores.policies,
    rolloutStore: stores.rollouts,
    opeGate,
    emitter,
    dashboard,
    // Scale-out: the learner duty learns from the stream and API nodes follow its snapshots.
    learning: new (embedded ? LearningLoop : ServingOnlyLearning)(joinConfigOf(config), policies, metrics, logger, {
      maxPendingBytes: config.rewards.maxPendingBytes,
    }),
    pendingEffects: new PendingEffects(),
    stream: stream.adapters,
    publisher,
    logRetention: stores.retention,
    ...(embedded ? { retentionTimer: retentionTimerOf(stores.retention, config, metrics, logger, closers) } : {}),
  };
  if (!embedded) {
    // API nodes serve what the duties publish; workers follow too, so their registry (the OPE gate's policies)
    // knows policies registered on any node.
    closers.push(await followPublishedState(parts, stream.adapters.snapshots, stores.policies, recommender));
  }
  metrics.observeState({
    now: () => clock.now(),
    rollouts: () => rollouts.list(),
    model: () => recommender.holder.current(),
    dashboardTracked: () => dashboard.aggregates.tracked,
  });
  return new Engine(parts, closers, recommender, stores);
}

/** Embedded retention (log.retention) on the engine's tick; a pass in progress finishes before the stores close. */
function retentionTimerOf(
  retention: LogRetention,
  config: LoopwiseConfig,
  metrics: EngineMetrics,
  logger: Logger,
  closers: (() => Promise<void>)[],
): LogRetentionTimer {
  const timer = new LogRetentionTimer(new LogRetentionRunner(retention, config.log, metrics.registry), logger);
  closers.push(() => timer.idle());
  return timer;
}

/**
 * Memory (default): rebuilt from the event log before traffic is served. Redis: the state lives in
 * Redis and is shared by every API process, so there is nothing to rebuild.
 */
async function openFeatureStore(
  config: LoopwiseConfig,
  clock: Clock,
  events: EventLog,
  logger: Logger,
  closers: (() => Promise<void>)[],
  metrics: EngineMetrics,
): Promise<FeatureStore> {
  if (config.storage.redisUrl) {
    const redis = connectRedis(config.storage.redisUrl, { cluster: config.storage.redisCluster });
    const store = createRedisFeatureStore(config.features, redis, `${config.storage.redisPrefix}:features`);
    closers.push(async () => {
      await store.close();
      redis.disconnect();
    });
    return store;
  }
  const store = createMemoryFeatureStore(config.features, clock);
  registerFeatureStoreMetrics(metrics.registry, store);
  const started = performance.now();
  const rebuilt = await rebuildFeatureStore(store, events, clock.now());
  if (rebuilt.events > 0) {
    logger.info(
      { events: rebuilt.events, ms: Math.round(performance.now() - started) },
      "feature windows rebuilt from the event log",
    );
  }
  closers.push(() => store.close());
  return store;
}

/**
 * Policies live in the registry, restored from their snapshots at start. A fresh install gets the
 * product default (contextual Thompson sampling, bandit/policy-types.ts) as "default", and a seeded
 * uniform ranker as "uniform" (the baseline that experiments and offline evaluation compare with).
 */
async function openPolicies(config: LoopwiseConfig, store: PolicyStore, clock: Clock): Promise<PolicyRegistry> {
  const registry = await PolicyRegistry.open({
    clock,
    store,
    persistEveryMs: config.policies.snapshotEvery,
  });
  const fresh = registry.defaultPolicyId === undefined;
  await registry.ensureDefault(); // first: the first policy registered becomes the default
  if (!registry.find("uniform")) await registry.register({ id: "uniform", type: "uniform" });
  // config rank.defaultPolicy only seeds the default of a fresh install; the registry owns it afterwards.
  const seed = config.rank.defaultPolicy;
  if (fresh && seed !== registry.defaultPolicyId && registry.find(seed)) await registry.setDefault(seed);
  return registry;
}

/**
 * Scale-out: Redis (stream, leases, snapshots, features) and PostgreSQL (the durable log) shared by many
 * processes. Redis alone keeps the embedded loop and only shares the feature store (each process its own
 * SQLite log), as before roles existed.
 */
export function isScaledOut(config: LoopwiseConfig): boolean {
  return config.storage.redisUrl !== undefined && config.storage.postgresUrl !== undefined;
}

/** The embedded mode (role all, not scaled out): today's in-process loop, its duties on the engine's own timer. */
export function runsInProcessDuties(config: LoopwiseConfig): boolean {
  return config.role === "all" && !isScaledOut(config);
}

/** API nodes append every durable write to the decision stream: role api, or all when scaled out (not workers). */
export function publishesToStream(config: LoopwiseConfig): boolean {
  return config.role === "api" || (config.role === "all" && isScaledOut(config));
}

/** Worker duties run here: role worker, or all when scaled out (an API node and a worker in one process). */
export function runsWorkerDuties(config: LoopwiseConfig): boolean {
  return config.role === "worker" || (config.role === "all" && isScaledOut(config));
}

export function joinConfigOf(config: LoopwiseConfig): JoinConfig {
  return {
    windowMs: config.rewards.window,
    defaultReward: config.rewards.defaultReward,
    aggregation: config.rewards.aggregation,
  };
}
