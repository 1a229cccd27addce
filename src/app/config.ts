import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { parseDuration } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { unknownKeys } from "../core/unknown-keys.js";
import { toFieldErrors } from "../core/validate.js";
import { DEFAULT_DEDUP_WINDOW } from "../events/dedup-window.js";
import { featuresConfigSchema } from "../features/features-config.js";
import { defaultRebuildLookback } from "../features/rebuild-feature-store.js";
import { DEFAULT_MAX_PENDING_BYTES } from "./learning-bytes.js";
import { logConfigSchema, retentionTooShort } from "./log-retention-config.js";
import { memoryConfigSchema } from "./memory-config.js";

/**
 * One validated configuration object. Precedence, lowest first: defaults, config file
 * (`loopwise.config.json` in the working directory or `--config FILE`), environment, command-line flags.
 * Durations accept "10m", "24h", "500ms" or milliseconds.
 */
const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * What this process does (issue 13). `all` (default): one process serves and runs every duty; with Redis
 * configured it is an API node and a worker at once. `api`: serves the v1 API and dashboard, appends to the
 * decision stream, runs no duties. `worker`: runs the duties under leases and serves only /healthz, /readyz
 * and /metrics. `api` and `worker` need Redis and PostgreSQL (checked at start, server/roles.ts).
 */
export const ROLES = ["all", "api", "worker"] as const;
export type Role = (typeof ROLES)[number];

const configFields = z.object({
  role: z.enum(ROLES).default("all"),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default("0.0.0.0"),
  dataDir: z.string().default("./data"),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Admin API key for admin routes; generated and printed at first start when unset. */
  adminKey: z.string().min(16).optional(),
  /**
   * `keys` (default): every route but /healthz, /v1/openapi.json and the dashboard's page needs an API key
   * of the right scope (README, Security). `none`: no keys at all, for local experiments only; the server
   * warns loudly when it listens on a non-loopback address with it.
   */
  auth: z.enum(["keys", "none"]).default("keys"),
  /**
   * Per-key rate limit on the write routes (every POST and PUT), counted per key name (per client address
   * with auth none); 429 with Retry-After past it. Off when unset.
   */
  rateLimit: z
    .object({
      max: z.number().int().min(1),
      timeWindow: duration.default(60_000),
    })
    .optional(),
  storage: z
    .object({
      /** `process`: durable against a process crash (WAL, synchronous=NORMAL); `fsync`: also against power loss. */
      durability: z.enum(["process", "fsync"]).default("process"),
      /**
       * Group commit delay of the SQLite log writer, in ms (0, the default: off). After a commit, the writer waits up
       * to this long for more writes before committing again, so that under steady traffic from many clients one
       * commit (its SQLite pages, the thread wake-ups) serves several requests. It never waits when no more writes
       * can come: the server ends the delay once every open connection has a request in flight, so a client
       * sending one request at a time does not wait it out; and a delay that brought nothing puts the writer back
       * to sleep, so a write after a pause is committed at once. Off by default: it halved the commits, but the CPU and
       * the p99 did not follow consistently, and it adds up to the delay to the median (docs/scaling.md).
       */
      groupCommitMs: z.coerce.number().min(0).max(50).default(0),
      /**
       * The decision journal (storage/sqlite/decision-journal.ts; SQLite with durability `process` only): a rank whose
       * decision id the server made is acknowledged once its record is written to an append-only journal file,
       * which survives kill -9 as the WAL does, instead of after the log writer's commit; the writer commits it
       * behind and the next start replays what was not committed. Takes the commit's round trip to the writer's
       * thread out of every rank's latency (docs/scaling.md). `false`: every rank waits for its commit.
       */
      decisionJournal: z
        .preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean())
        .default(true),
      /**
       * Redis for state shared by many API processes (the feature store): a URL, or comma-separated
       * host:port seeds of a Redis Cluster. Unset: everything stays in this process (memory + SQLite).
       */
      redisUrl: z.string().optional(),
      redisCluster: z.boolean().default(false),
      /** Key prefix in Redis, so several deployments can share one Redis. */
      redisPrefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]+$/)
        .default("lw"),
      /**
       * PostgreSQL for the durable log and records (decisions, rewards, events, items, policies, rollouts)
       * shared by several processes: a libpq URL. Unset: they stay in `<dataDir>/loopwise.db` (SQLite).
       */
      postgresUrl: z.string().min(1).optional(),
      /** The schema the tables live in (created when missing), so deployments can share one database. */
      postgresSchema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case SQL identifier")
        .default("public"),
    })
    .default({
      durability: "process",
      groupCommitMs: 0,
      decisionJournal: true,
      redisCluster: false,
      redisPrefix: "lw",
      postgresSchema: "public",
    }),
  /** The decision stream (stream/decision-stream.ts): Redis Streams when storage.redisUrl is set. */
  stream: z
    .object({
      /**
       * Partitions (one Redis stream key each, spread over a Cluster's slots). Every node of a deployment must
       * use the same number: an entry's partition is a hash of its decision id modulo this.
       */
      partitions: z.number().int().min(1).max(1024).default(16),
    })
    .default({ partitions: 16 }),
  /** Worker duties (src/duties/): leases and their pace. */
  workers: z
    .object({
      /** A duty's lease lasts this long unrenewed; a standby worker takes over at most this long after a crash. */
      leaseTtl: duration.default(10_000),
      /** How often the stream-trim duty drops entries every consumer group has acked. */
      trimEvery: duration.default(5_000),
      /**
       * A followed policy whose newest snapshot is older than this serves with a `policy_stale:<id>` fallback
       * (the learner publishes at least every `learnerCheckpoint`, heartbeats included).
       */
      maxStaleness: duration.default(5_000),
      /** How often the learner checkpoints, acks and publishes a policy version (at least; more under load). */
      learnerCheckpoint: duration.default(1_000),
      /** How often API nodes and workers look for policies registered, or a default changed, on other nodes. */
      policyRefresh: duration.default(5_000),
      /**
       * The learner's reward join closes a window this far behind the newest entry it applied: an entry API
       * nodes appended this much out of time order still counts, as the log counts it (duties/learner-join.ts).
       * Every worker must use the same value: it is part of what the learner learns.
       */
      learnerSlack: duration.default(5_000),
      /**
       * While some partition has nothing newer, the learner takes an entry once it is this old (at most
       * `learnerSlack`): live learning then equals a replay of the stream (duties/partition-merge.ts).
       */
      learnerSettle: duration.default(1_000),
    })
    .default({
      leaseTtl: 10_000,
      trimEvery: 5_000,
      maxStaleness: 5_000,
      learnerCheckpoint: 1_000,
      policyRefresh: 5_000,
      learnerSlack: 5_000,
      learnerSettle: 1_000,
    }),
  ingest: z
    .object({
      maxBatch: z.number().int().min(1).max(10_000).default(1000),
      /** Events further in the future than this (client clock skew) are rejected. */
      maxFuture: duration.default(5 * 60_000),
      /** Events older than this are rejected. */
      maxPast: duration.default(7 * 24 * 3_600_000),
      /**
       * SQLite log: event ids are deduplicated over the last this-many ids written (storage/sqlite/event-inserts.ts),
       * held on the log writer's thread at ~25 bytes each (2,000,000: ~50 MB) and rebuilt from the log at start
       * (~1-2 s for 2M on a small machine, before the server listens). A retry arriving after that many newer events
       * is logged again: at R events/s the window spans dedupWindow / R seconds (2M: 5.5 h at 100/s, 33 min at
       * 1,000/s). One process writes a file's events; another (a tool) dedups against its own window only.
       * PostgreSQL dedups every id forever and ignores this. At most 50,000,000 (~1.3 GB): past it, a typo.
       */
      dedupWindow: z.coerce.number().int().min(1).max(50_000_000).default(DEFAULT_DEDUP_WINDOW),
    })
    .default({
      maxBatch: 1000,
      maxFuture: 5 * 60_000,
      maxPast: 7 * 24 * 3_600_000,
      dedupWindow: DEFAULT_DEDUP_WINDOW,
    }),
  rewards: z
    .object({
      window: duration.default(10 * 60_000),
      defaultReward: z.number().min(-1e9).max(1e9).default(0),
      aggregation: z.enum(["earliest", "sum"]).default("earliest"),
      /** Event type → reward: a number, or "value" for the event's value (purchase revenue). */
      eventMapping: z
        .record(z.string(), z.union([z.number().min(-1e9).max(1e9), z.literal("value")]))
        .default({ click: 1, purchase: "value" }),
      /**
       * Memory the learning loop may hold for decisions inside their reward window (estimated bytes);
       * past it the oldest windows close early (learning from the rewards they have) and are counted.
       */
      maxPendingBytes: z
        .number()
        .int()
        .min(1 << 20)
        .default(DEFAULT_MAX_PENDING_BYTES),
      /**
       * A reward's client `timestamp` more than this before the server's now is refused (400): a day by default,
       * well past any window, so only a wrong clock or a replayed old id trips it. Lateness is judged on arrival.
       */
      maxPast: duration.default(24 * 3_600_000),
      /** A reward's `timestamp` more than this after the server's now is refused (400): client clock skew. */
      maxFuture: duration.default(5 * 60_000),
    })
    .default({
      window: 10 * 60_000,
      defaultReward: 0,
      aggregation: "earliest",
      eventMapping: { click: 1, purchase: "value" },
      maxPendingBytes: DEFAULT_MAX_PENDING_BYTES,
      maxPast: 24 * 3_600_000,
      maxFuture: 5 * 60_000,
    }),
  rank: z
    .object({
      defaultSlots: z.number().int().min(1).max(100).default(10),
      maxCandidates: z.number().int().min(1).max(10_000).default(1000),
      /** Candidates generated when a request brings none. */
      generatedCandidates: z.number().int().min(1).max(1000).default(100),
      /**
       * The policy a fresh install serves by default (seeds the policy registry's default at first start;
       * afterwards PUT /v1/policies/default and promoted rollouts change it, and the registry keeps it).
       */
      defaultPolicy: z.string().default("default"),
    })
    .default({ defaultSlots: 10, maxCandidates: 1000, generatedCandidates: 100, defaultPolicy: "default" }),
  policies: z
    .object({
      /** How often learned policy state is snapshotted to the data dir (and always at shutdown). */
      snapshotEvery: duration.default(60_000),
    })
    .default({ snapshotEvery: 60_000 }),
  rollouts: z
    .object({
      /** How much recent log the OPE gate evaluates candidate and incumbent on, before the first stage. */
      opeGateLookback: duration.default(7 * 24 * 3_600_000),
      /** Scale-out: how often an API node reloads the rollouts it routes from (app/rollout-follower.ts). */
      refreshEvery: duration.default(1000),
    })
    .default({ opeGateLookback: 7 * 24 * 3_600_000, refreshEvery: 1000 }),
  evaluations: z
    .object({
      /** Jobs waiting behind the running one; POST /v1/evaluations answers 429 beyond it. */
      maxQueued: z.number().int().min(0).max(1000).default(4),
      /** A job running longer is stopped (its worker terminated) and fails with the reason. */
      timeLimit: duration.default(10 * 60_000),
    })
    .default({ maxQueued: 4, timeLimit: 10 * 60_000 }),
  recommend: z
    .object({
      /** The session recommender family (recommend/recommenders.ts); vstan won the rsc15-100k evaluation. */
      model: z.enum(["pop", "spop", "iknn", "sknn", "vsknn", "vstan", "cooc", "item2vec"]).default("vstan"),
      retrainEvery: duration.default(3_600_000),
      /** Train on the last this-much of the event log. */
      trainWindow: duration.default(30 * 24 * 3_600_000),
    })
    .default({ model: "vstan", retrainEvery: 3_600_000, trainWindow: 30 * 24 * 3_600_000 }),
  /** The feature store: windows, sessions, aggregates (see features/features-config.ts). */
  features: featuresConfigSchema.prefault({}),
  /** The dashboard's per-minute aggregates (app/minute-aggregates.ts) behind GET /v1/timeseries. */
  dashboard: z
    .object({
      /** Minutes kept, in memory and in the database (14 days of minutes per policy and rollout arm). */
      retention: duration.default(14 * 24 * 3_600_000),
      /** A session idle this long is closed: a later purchase no longer counts for it. */
      sessionTtl: duration.default(2 * 3_600_000),
      /** Most open decisions and sessions remembered for attributing rewards and purchases. */
      maxTracked: z.number().int().min(1000).max(10_000_000).default(100_000),
      /**
       * Scale-out: how often a node re-reads the minutes the `dashboard-fold` duty writes (its dashboard shows the
       * whole cluster's traffic this much later, plus the duty's checkpoint interval).
       */
      refreshEvery: duration.default(2_000),
    })
    .default({ retention: 14 * 24 * 3_600_000, sessionTtl: 2 * 3_600_000, maxTracked: 100_000, refreshEvery: 2_000 }),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** How often periodic work (reward-window defaults, rollout ticks, snapshots) runs. */
  tickInterval: duration.default(1000),
  /** Synthetic ranks on throwaway state before the server listens, so it never serves cold code (server/warm-up.ts); 0: none. */
  warmUpRanks: z.coerce.number().int().min(0).max(100_000).default(300),
  /** The durable log's retention (app/log-retention-config.ts). */
  log: logConfigSchema,
  /** The process's memory budget (app/memory-config.ts, server/heap-budget.ts). */
  memory: memoryConfigSchema,
});

/** The settings, and the rules across them: `log.retention` keeps what every window reading the log needs. */
export const configSchema = configFields.superRefine((c, ctx) => {
  const features = { rebuildLookback: defaultRebuildLookback(c.features) };
  const tooShort = retentionTooShort(c.log.retention, { ...c, features });
  if (tooShort) ctx.addIssue({ code: "custom", path: ["log", "retention"], message: tooShort });
  const { learnerSettle, learnerSlack } = c.workers;
  if (learnerSettle > learnerSlack) {
    // A window closed on the clock would miss an entry still settling (duties/learner-duty.ts, settleMs).
    const message = `must be at most workers.learnerSlack (${learnerSlack} ms), got ${learnerSettle} ms`;
    ctx.addIssue({ code: "custom", path: ["workers", "learnerSettle"], message });
  }
});

export type LoopwiseConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Environment variables that map onto config paths. */
const ENV_MAP: Record<string, string[]> = {
  PORT: ["port"],
  LOOPWISE_PORT: ["port"],
  LOOPWISE_ROLE: ["role"],
  LOOPWISE_REDIS_PREFIX: ["storage", "redisPrefix"],
  LOOPWISE_LEASE_TTL: ["workers", "leaseTtl"],
  LOOPWISE_MAX_STALENESS: ["workers", "maxStaleness"],
  LOOPWISE_POLICY_REFRESH: ["workers", "policyRefresh"],
  LOOPWISE_TRIM_EVERY: ["workers", "trimEvery"],
  LOOPWISE_LEARNER_SLACK: ["workers", "learnerSlack"],
  LOOPWISE_LEARNER_SETTLE: ["workers", "learnerSettle"],
  HOST: ["host"],
  LOOPWISE_DATA_DIR: ["dataDir"],
  LOOPWISE_LOG_LEVEL: ["logLevel"],
  LOG_LEVEL: ["logLevel"],
  LOOPWISE_ADMIN_KEY: ["adminKey"],
  LOOPWISE_AUTH: ["auth"],
  LOOPWISE_REDIS_URL: ["storage", "redisUrl"],
  LOOPWISE_DURABILITY: ["storage", "durability"],
  LOOPWISE_GROUP_COMMIT_MS: ["storage", "groupCommitMs"],
  LOOPWISE_DECISION_JOURNAL: ["storage", "decisionJournal"],
  LOOPWISE_POSTGRES_URL: ["storage", "postgresUrl"],
  LOOPWISE_POSTGRES_SCHEMA: ["storage", "postgresSchema"],
  LOOPWISE_REWARD_WINDOW: ["rewards", "window"],
  LOOPWISE_DEDUP_WINDOW: ["ingest", "dedupWindow"],
  LOOPWISE_LOG_RETENTION: ["log", "retention"],
  LOOPWISE_MEMORY_BUDGET: ["memory", "budget"],
  LOOPWISE_WARM_UP_RANKS: ["warmUpRanks"],
};

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  flags?: Record<string, unknown>;
  cwd?: string;
}

export function loadConfig(sources: ConfigSources = {}): LoopwiseConfig {
  const cwd = sources.cwd ?? process.cwd();
  const fromFile = readConfigFile(sources.file, cwd);
  const fromEnv: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(ENV_MAP)) {
    const value = sources.env?.[name];
    if (value !== undefined && value !== "") setPath(fromEnv, path, value);
  }
  const merged = deepMerge(deepMerge(fromFile, fromEnv), sources.flags ?? {});
  return parseConfig(merged);
}

export function parseConfig(input: unknown): LoopwiseConfig {
  const result = configSchema.safeParse(input);
  const unknown = unknownKeys(configSchema, input, "config");
  if (!result.success || unknown.length > 0) {
    const errors = [...unknown, ...(result.success ? [] : toFieldErrors(result.error.issues, "config"))];
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `invalid configuration: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
      errors,
    );
  }
  return result.data;
}

function readConfigFile(file: string | undefined, cwd: string): Record<string, unknown> {
  const path = file ? resolve(cwd, file) : resolve(cwd, "loopwise.config.json");
  if (!existsSync(path)) {
    if (file) throw new LoopwiseError("VALIDATION_FAILED", `config file ${path} does not exist`);
    return {};
  }
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new LoopwiseError("VALIDATION_FAILED", `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // A JSON config file can hold an own "__proto__" key; assigning it would replace the prototype.
    if (value === undefined || key === "__proto__") continue;
    const prev = Object.hasOwn(out, key) ? out[key] : undefined;
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `api` and `worker` processes share everything through Redis (stream, leases, snapshots, features) and
 * PostgreSQL (the log and records); without both they would silently run a loop of their own. Refused at start.
 */
export function checkRole(config: LoopwiseConfig): void {
  if (config.role === "all") return;
  const missing = [
    config.storage.redisUrl ? undefined : "LOOPWISE_REDIS_URL",
    config.storage.postgresUrl ? undefined : "LOOPWISE_POSTGRES_URL",
  ].filter((name) => name !== undefined);
  if (missing.length === 0) return;
  throw new LoopwiseError(
    "VALIDATION_FAILED",
    `role "${config.role}" runs beside other processes and needs the Redis and PostgreSQL they share: set ${missing.join(" and ")} (storage.redisUrl, storage.postgresUrl), or run role "all" for one process`,
    missing.map((name) => ({
      path: name === "LOOPWISE_REDIS_URL" ? "storage.redisUrl" : "storage.postgresUrl",
      message: `${name} is required with role ${config.role}`,
    })),
  );
}

/** The config as printed at start: secrets masked. */
export function printableConfig(config: LoopwiseConfig): Record<string, unknown> {
  const { postgresUrl } = config.storage;
  const storage = postgresUrl ? { ...config.storage, postgresUrl: maskPassword(postgresUrl) } : config.storage;
  return { ...config, storage, adminKey: config.adminKey ? "***" : undefined };
}

/** A connection URL with its password (if any) replaced by "***". */
function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "***"; // not a URL we can parse: show nothing of it
  }
}
