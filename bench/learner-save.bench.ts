import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type { PolicySnapshot } from "../src/bandit/base-policy.js";
import type { StreamEntry } from "../src/stream/stream-entry.js";
import { benchPostgresUrl } from "./support/bench-postgres.js";
import { type LongestBlock, longestBlock, trainedDefaultPolicy } from "./support/longest-block.js";
import { mainThreadTimes } from "./support/thread-cpu.js";

/**
 * `npm run bench -- learner-save [--arms=2000] [--rounds=3] [--store-from=DIR]`: the learner duty's heaviest
 * checkpoint with the default policy (hybrid, armDims 64) at `arms` learned arms: a full checkpoint, a full
 * publish and a save to the PostgreSQL policy store in one `checkpoint()` (fullCheckpointEvery, fullEvery and
 * persistEvery 1), as a worker does every 20th checkpoint, 50th publish and 10th checkpoint. Reports the
 * longest event-loop block (wall, and its main-thread CPU: the worker's lease renewals wait that long) and the
 * checkpoint's main-thread CPU. With `--store-from=DIR` the same on another checkout's duty and stores (the base
 * of an A/B), alternated in one process. The stream is in memory; the leases (where the checkpoint is written) and
 * the published snapshots are in memory, or on Redis with `--redis[=URL]` (default LOOPWISE_BENCH_REDIS_URL or
 * LOOPWISE_TEST_REDIS_URL; keys under a prefix of their own, deleted at the end): the memory snapshot store copies
 * what it keeps (~90-110 ms for a 35 MB full), a stand-in that does not show what production pays. The policy
 * store is PostgreSQL (LOOPWISE_BENCH_POSTGRES_URL or LOOPWISE_TEST_POSTGRES_URL), a schema per checkout, dropped
 * at the end.
 */
const T = Date.UTC(2026, 2, 2, 10);
const WINDOW = 60_000;
const DECISIONS_PER_ROUND = 40;

interface Tree {
  label: string;
  // biome-ignore lint/suspicious/noExplicitAny: modules of another checkout, loaded at run time
  m: Record<string, any>;
}

interface Figures {
  longest: LongestBlock;
  cpuMs: number;
  wallMs: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const arms = Number(flag("arms") ?? 2000);
  const rounds = Number(flag("rounds") ?? 3);
  const url = benchPostgresUrl("learner-save");
  if (!url) return { skipped: true };
  const other = flag("store-from");
  const redisFlag = args.find((a) => a === "--redis" || a.startsWith("--redis="));
  const redisUrl = redisFlag?.includes("=")
    ? redisFlag.slice("--redis=".length)
    : redisFlag &&
      (process.env.LOOPWISE_BENCH_REDIS_URL ?? process.env.LOOPWISE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
  const trees = [await load(resolve("."), "this tree"), ...(other ? [await load(resolve(other), other)] : [])];
  const snapshot = trainedDefaultPolicy(arms, "p").snapshot();
  const prefix = `lw_bench_lsave_${process.pid}_`;
  const rigs = [];
  for (const [i, tree] of trees.entries()) rigs.push(await rig(tree, url, `${prefix}${i}`, snapshot, redisUrl));
  const out: Record<string, Figures[]> = {};
  const takeovers: Record<string, Figures[]> = {};
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, tree] of trees.entries()) {
        // Twice: once alone for CPU and wall, once beside the ticker for the longest block.
        const alone = await rigs[i]!.round(2 * r, false);
        const blocked = await rigs[i]!.round(2 * r + 1, true);
        const f = { ...alone, longest: blocked.longest };
        out[tree.label] = [...(out[tree.label] ?? []), f];
        console.log(`  ${tree.label} round ${r + 1}: ${describe(f)}`);
      }
    }
    // Last: each standby restarts the duty on its rig (the bench's lease is released first).
    for (const [i, tree] of trees.entries()) {
      await rigs[i]!.release();
      const t = await rigs[i]!.takeover();
      takeovers[tree.label] = [t];
      console.log(`  ${tree.label} takeover: ${describe(t).replace("checkpoint", "start")}`);
    }
  } finally {
    for (const x of rigs) await x.close();
    await dropSchemas(url, prefix, trees.length);
  }
  const where = redisUrl ? "on Redis" : "in memory";
  console.log(
    `learner duty's full checkpoint + publish (leases, snapshots ${where}) + PostgreSQL save, default policy at ${arms} arms (medians):`,
  );
  for (const [label, xs] of Object.entries(out)) console.log(`  ${label}: ${describe(median(xs))}`);
  return { arms, rounds, redis: Boolean(redisUrl), results: out, takeovers };
}

async function load(root: string, label: string): Promise<Tree> {
  const src = (path: string) => import(pathToFileURL(`${root}/src/${path}`).href);
  const parts = await Promise.all([
    src("duties/learner-duty.ts"),
    src("duties/learner-fixtures.ts"),
    src("storage/memory/decision-stream-memory.ts"),
    src("storage/memory/lease-store-memory.ts"),
    src("storage/memory/snapshot-store-memory.ts"),
    src("storage/redis/redis-connection.ts"),
    src("storage/redis/lease-store-redis.ts"),
    src("storage/redis/snapshot-store-redis.ts"),
    src("storage/redis/feature-store-redis.ts"),
    src("storage/postgres/postgres-store.ts"),
    src("storage/postgres/policy-store-postgres.ts"),
    src("core/clock.ts"),
  ]);
  return { label, m: Object.assign({}, ...parts) };
}

/** A learner duty holding its lease on `tree`'s code, with the trained policy stored; rounds add entries. */
async function rig(tree: Tree, url: string, schema: string, snapshot: PolicySnapshot, redisUrl?: string) {
  const { m } = tree;
  const connection = await m.PostgresStore.open({ url, schema, max: 4 });
  const policies = new m.PostgresPolicyStore(connection);
  await policies.save(snapshot, T);
  const clock = new m.ManualClock(T);
  const redis = redisUrl ? m.connectRedis(redisUrl) : undefined;
  const keyPrefix = `${schema}_redis`;
  const adapters = {
    stream: m.createMemoryDecisionStream({ partitions: 4 }),
    // Redis leases use Redis's clock, not the bench's manual one: the lease is taken for a day below.
    leases: redis ? m.createRedisLeaseStore(redis, keyPrefix) : m.createMemoryLeaseStore(clock),
    snapshots: redis
      ? m.createRedisSnapshotStore(redis, { keyPrefix, keepFull: 2 })
      : m.createMemorySnapshotStore({ keepFull: 2 }),
  };
  const ctx = m.learnerContext({ adapters, policies, clock, workerId: "bench", windowMs: WINDOW });
  const options = { fullEvery: 1, persistEvery: 1, fullCheckpointEvery: 1, checkpointMs: 3_600_000 };
  const duty = m.createLearnerDuty(ctx, "p", options);
  const token = await adapters.leases.acquire(duty.name, "bench", 3_600_000_000);
  await duty.start(token);
  const round = async (r: number, withTicker: boolean): Promise<Figures> => {
    const start = T + r * 3_600_000;
    const entries: StreamEntry[] = m.learnerStream({
      policyId: "p",
      decisions: DECISIONS_PER_ROUND,
      windowMs: WINDOW,
      start,
      seed: r + 1,
    });
    await adapters.stream.append(entries);
    const end = start + 1_800_000; // every window of the round closed: the policy learned, a publish is due
    for (let before = -1; duty.status().applied !== before; ) {
      before = duty.status().applied;
      await duty.step(end);
    }
    const cpu0 = mainThreadTimes()?.cpuNs ?? 0;
    const t0 = performance.now();
    let longest = { wallMs: 0, cpuMs: 0 };
    if (withTicker) longest = await longestBlock(() => duty.checkpoint(end));
    else await duty.checkpoint(end);
    return { longest, wallMs: performance.now() - t0, cpuMs: ((mainThreadTimes()?.cpuNs ?? 0) - cpu0) / 1e6 };
  };
  /** A standby taking the lease over from the last checkpoint (read, decoded, policy restored), as after a crash. */
  const takeover = async (): Promise<Figures> => {
    const standby = m.createLearnerDuty(ctx, "p", options);
    const lease = await adapters.leases.acquire(standby.name, `standby-${Math.random()}`, 3_600_000_000);
    const cpu0 = mainThreadTimes()?.cpuNs ?? 0;
    const t0 = performance.now();
    const longest = await longestBlock(() => standby.start(lease ?? 0));
    const figures = { longest, wallMs: performance.now() - t0, cpuMs: ((mainThreadTimes()?.cpuNs ?? 0) - cpu0) / 1e6 };
    await standby.stop();
    return figures;
  };
  return {
    round,
    takeover,
    release: async () => {
      await duty.stop();
      await adapters.leases.release(duty.name, "bench", token);
    },
    close: async () => {
      await duty.stop();
      await policies.close();
      await connection.close();
      await adapters.snapshots.close?.();
      if (redis) {
        await m.deleteByPrefix(redis, keyPrefix);
        redis.disconnect();
      }
    },
  };
}

async function dropSchemas(url: string, prefix: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (let i = 0; i < n; i++) await client.query(`DROP SCHEMA IF EXISTS ${prefix}${i} CASCADE`);
  await client.end();
}

function median(xs: Figures[]): Figures {
  const mid = (f: (x: Figures) => number) => [...xs].sort((a, b) => f(a) - f(b))[Math.floor(xs.length / 2)]!;
  return {
    longest: mid((x) => x.longest.cpuMs).longest,
    cpuMs: mid((x) => x.cpuMs).cpuMs,
    wallMs: mid((x) => x.wallMs).wallMs,
  };
}

function describe(f: Figures): string {
  return (
    `longest block ${f.longest.wallMs.toFixed(1)} ms wall (CPU ${f.longest.cpuMs.toFixed(1)} ms); ` +
    `checkpoint ${f.cpuMs.toFixed(0)} ms main-thread CPU, ${f.wallMs.toFixed(0)} ms wall`
  );
}
