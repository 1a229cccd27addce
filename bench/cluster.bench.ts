import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { createEngine, type Engine } from "../src/app/engine.js";
import { createRedisDecisionStream } from "../src/storage/redis/decision-stream-redis.js";
import { deleteByPrefix } from "../src/storage/redis/feature-store-redis.js";
import { connectRedis } from "../src/storage/redis/redis-connection.js";
import { type Figures, figures as streamFigures } from "./stream.bench.js";
import { realisticRankBody } from "./support/rank-requests.js";

/**
 * `npm run bench -- cluster [--quick]`: the per-unit costs of an API node in scale-out (issue 13), the inputs
 * of docs/scaling.md's capacity model. One engine as an API node runs: its log in PostgreSQL
 * (LOOPWISE_BENCH_POSTGRES_URL, else LOOPWISE_TEST_POSTGRES_URL) in a fresh schema, its feature store in Redis
 * (LOOPWISE_BENCH_REDIS_URL, else LOOPWISE_TEST_REDIS_URL) under a fresh prefix; both are removed after.
 *
 * Per rank (realistic requests: a fresh user and context each, 100 candidates, 10 slots; in process, without
 * HTTP): CPU µs of this process (process.cpuUsage over N ranks), and the PostgreSQL statements and Redis
 * commands this process sent per decision, counted by wrapping pg's `Client.query` and ioredis's
 * `sendCommand` (by name, so stream appends show as XADD once serving appends to the stream). Ranks run one
 * at a time and 32 in flight: the group-commit writer shares one transaction among concurrent writes, so
 * statements per decision fall with concurrency. Then per event (batches of 100) and per reward, and the
 * Redis stream's append/consume throughput (bench/stream.bench.ts's measurement, batch 1/10/100).
 * The machine is shared: CPU µs per unit are this process's own and steadier than wall-clock rates.
 */
const logger = pino({ level: "silent" });

interface Counts {
  pgStatements: number;
  pgCommits: number;
  redis: Map<string, number>;
}
const counts: Counts = { pgStatements: 0, pgCommits: 0, redis: new Map() };

/** Counts every statement any pg client of this process sends (pools use Client.query). */
function countPostgres(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === "string" ? first : (first?.text ?? "");
    counts.pgStatements++;
    if (/^\s*COMMIT/i.test(text)) counts.pgCommits++;
    return original.apply(this, args);
  };
}

/** Counts every command any ioredis connection of this process sends, by name (pipelined ones too). */
function countRedis(): void {
  const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, ...args: unknown[]) {
    const name = String((args[0] as { name?: string })?.name ?? "?").toLowerCase();
    counts.redis.set(name, (counts.redis.get(name) ?? 0) + 1);
    return original.apply(this, args);
  };
}

interface UnitCost {
  units: number;
  /** The Redis server's CPU (INFO cpu) per unit: exact on a Redis of its own, an upper bound on a shared one. */
  redisServerCpuUsPerUnit: number;
  wallPerSec: number;
  cpuUsPerUnit: number;
  pgStatementsPerUnit: number;
  pgCommitsPerUnit: number;
  redisCommandsPerUnit: number;
  redisByCommand: Record<string, number>;
}

/** A connection that reads the Redis server's CPU seconds; its own INFO commands are left out of the counts. */
let serverInfo: Redis | undefined;
async function redisServerCpuUs(): Promise<number> {
  if (!serverInfo) return 0;
  const info = await serverInfo.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return (field("used_cpu_sys") + field("used_cpu_user")) * 1e6;
}

/** Runs `work` over `units` units and returns its per-unit cost in CPU, PostgreSQL and Redis. */
async function measure(units: number, work: () => Promise<void>): Promise<UnitCost> {
  const serverBefore = await redisServerCpuUs();
  const before = { pg: counts.pgStatements, commits: counts.pgCommits, redis: new Map(counts.redis) };
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const serverUs = (await redisServerCpuUs()) - serverBefore;
  const redisByCommand: Record<string, number> = {};
  let redisTotal = 0;
  for (const [name, n] of counts.redis) {
    const delta = n - (before.redis.get(name) ?? 0);
    if (delta === 0 || name === "info") continue;
    redisByCommand[name] = round(delta / units);
    redisTotal += delta;
  }
  return {
    units,
    redisServerCpuUsPerUnit: Math.round(serverUs / units),
    wallPerSec: Math.round(units / seconds),
    cpuUsPerUnit: Math.round((used.user + used.system) / units),
    pgStatementsPerUnit: round((counts.pgStatements - before.pg) / units),
    pgCommitsPerUnit: round((counts.pgCommits - before.commits) / units),
    redisCommandsPerUnit: round(redisTotal / units),
    redisByCommand,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** `n` calls of `one(i)`, at most `inFlight` at a time. */
async function pool(n: number, inFlight: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}

function show(label: string, c: UnitCost): void {
  const redis = Object.entries(c.redisByCommand)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(
    `${label}: ${c.cpuUsPerUnit} CPU µs, ${c.pgStatementsPerUnit} PG statements (${c.pgCommitsPerUnit} commits), ` +
      `${c.redisCommandsPerUnit} Redis commands (${redis || "none"}), Redis server ${c.redisServerCpuUsPerUnit} CPU µs; ` +
      `${c.wallPerSec}/s wall over ${c.units}`,
  );
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const quick = args.includes("--quick");
  const postgresUrl = process.env.LOOPWISE_BENCH_POSTGRES_URL ?? process.env.LOOPWISE_TEST_POSTGRES_URL;
  const redisUrl = process.env.LOOPWISE_BENCH_REDIS_URL ?? process.env.LOOPWISE_TEST_REDIS_URL;
  if (!postgresUrl || !redisUrl) {
    console.log("cluster: skipped (set LOOPWISE_BENCH_POSTGRES_URL and LOOPWISE_BENCH_REDIS_URL, or the test ones)");
    return { skipped: "no PostgreSQL or Redis configured" };
  }
  countPostgres();
  countRedis();
  serverInfo = connectRedis(redisUrl) as Redis;
  const schema = `lw_bench_${randomBytes(4).toString("hex")}`;
  const prefix = `lwbench-cluster-${schema}`;
  const engine = await createEngine({
    dataDir: ":memory:",
    logger,
    config: { storage: { postgresUrl, postgresSchema: schema, redisUrl, redisPrefix: prefix } },
  });
  const out: Record<string, unknown> = { quick, machine: "shared 2-core box; CPU µs are this process's own" };
  const n = quick ? 300 : 2000;
  try {
    Object.assign(out, await apiNodeCosts(engine, n));
    out.postgresBytes = await rowSizes(postgresUrl, schema);
    out.embeddedRank = await embeddedBaseline(n);
  } finally {
    await engine.parts.features?.clear();
    await engine.close();
    await dropSchema(postgresUrl, schema);
  }
  out.stream = await streamThroughput(redisUrl, quick ? 1000 : 5000);
  serverInfo.disconnect();
  serverInfo = undefined;
  return out;
}

async function apiNodeCosts(engine: Engine, n: number): Promise<Record<string, UnitCost>> {
  await pool(200, 8, (i) => engine.rank(realisticRankBody(i, "warm"))); // JIT, pools, first model
  const decisionIds: string[] = [];
  const rankOneAtATime = await measure(n, () =>
    pool(n, 1, async (i) => decisionIds.push((await engine.rank(realisticRankBody(i, "seq"))).decisionId)),
  );
  show("rank, one at a time", rankOneAtATime);
  const rank32InFlight = await measure(n, () => pool(n, 32, (i) => engine.rank(realisticRankBody(i, "par"))));
  show("rank, 32 in flight", rank32InFlight);
  const batches = Math.max(5, Math.round(n / 40));
  const event = await measure(batches * 100, () =>
    pool(batches, 4, (b) => engine.ingestEvents({ events: eventBatch(b) })),
  );
  show("event (batches of 100, 4 in flight)", event);
  const rewarded = decisionIds.slice(0, Math.min(500, decisionIds.length));
  const reward = await measure(rewarded.length, () =>
    pool(rewarded.length, 8, (i) => engine.reward(rewarded[i] as string, { value: 1 })),
  );
  show("reward (8 in flight)", reward);
  return { rankOneAtATime, rank32InFlight, event, reward };
}

/**
 * The same ranks on the embedded default (in-process feature store, SQLite log on its writer thread), in the
 * same run: the ratio to the API node's figures is the cost of the shared stores, whatever the machine's load.
 */
async function embeddedBaseline(n: number): Promise<{ oneAtATime: UnitCost; inFlight32: UnitCost }> {
  const engine = await createEngine({ dataDir: ":memory:", logger });
  try {
    await pool(200, 8, (i) => engine.rank(realisticRankBody(i, "warm")));
    const oneAtATime = await measure(n, () => pool(n, 1, (i) => engine.rank(realisticRankBody(i, "seq"))));
    show("embedded rank, one at a time", oneAtATime);
    const inFlight32 = await measure(n, () => pool(n, 32, (i) => engine.rank(realisticRankBody(i, "par"))));
    show("embedded rank, 32 in flight", inFlight32);
    return { oneAtATime, inFlight32 };
  } finally {
    await engine.close();
  }
}

/** 100 view/click events of 20 shoppers, as a storefront's batcher sends them. */
function eventBatch(b: number): Record<string, unknown>[] {
  return Array.from({ length: 100 }, (_, k) => ({
    eventId: `bench-${b}-${k}`,
    type: k % 5 === 0 ? "click" : "view",
    userId: `shopper-${b}-${k % 20}`,
    itemId: `item-${(b * 7 + k) % 2000}`,
  }));
}

/**
 * Append and consume of 8-partition Redis streams (stream.bench.ts's passes: 2 per batch size), and the Redis
 * server's CPU per entry over all of them (one append plus one read-and-ack each).
 */
async function streamThroughput(
  redisUrl: string,
  entries: number,
): Promise<{ figures: Figures[]; redisServerCpuUsPerEntry: number }> {
  const client = connectRedis(redisUrl);
  const prefix = `lwbench-cluster-stream-${randomBytes(4).toString("hex")}`;
  let opened = 0;
  try {
    const before = await redisServerCpuUs();
    const figures = await streamFigures("redis stream", entries, async () =>
      createRedisDecisionStream(client, { partitions: 8, keyPrefix: `${prefix}-${opened++}` }),
    );
    const total = figures.reduce((sum, f) => sum + 2 * f.entries, 0);
    const redisServerCpuUsPerEntry = Math.round(((await redisServerCpuUs()) - before) / total);
    console.log(`redis stream: Redis server ${redisServerCpuUsPerEntry} CPU µs per entry appended and consumed`);
    return { figures, redisServerCpuUsPerEntry };
  } finally {
    for (let i = 0; i < opened; i++) await deleteByPrefix(client, `${prefix}-${i}`);
    client.disconnect();
  }
}

/** Average stored bytes per decision and event row (PostgreSQL's own size of the values, before TOAST and indexes). */
async function rowSizes(url: string, schema: string): Promise<{ decisionRecord: number; eventBody: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const one = async (sql: string) => Math.round(Number((await client.query(sql)).rows[0]?.bytes ?? 0));
    const sizes = {
      decisionRecord: await one(`SELECT avg(pg_column_size(record)) AS bytes FROM ${schema}.decisions`),
      eventBody: await one(`SELECT avg(pg_column_size(body)) AS bytes FROM ${schema}.events`),
    };
    console.log(`PostgreSQL: ${sizes.decisionRecord} bytes per decision record, ${sizes.eventBody} per event body`);
    return sizes;
  } finally {
    await client.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
