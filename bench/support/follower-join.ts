import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { PolicyFollowers } from "../../src/app/policy-follower.js";
import type { PolicyRegistry } from "../../src/bandit/policy-registry.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { PolicyPublisher, policySnapshotName } from "../../src/duties/learner-snapshots.js";
import { createMemorySnapshotStore } from "../../src/storage/memory/snapshot-store-memory.js";
import { createRedisSnapshotStore } from "../../src/storage/redis/snapshot-store-redis.js";
import type { SnapshotKind, SnapshotStore } from "../../src/stream/snapshot-store.js";
import { armFeedback } from "./arm-feedback.js";
import { type LongestBlock, longestBlock } from "./longest-block.js";

/**
 * Probe (issue 12, the scale-out path): the longest event-loop block of an API node's policy follower while it
 * **joins** (its first full) and while it **catches up after falling behind** (three deltas and a full that
 * continues a version it does not hold: it must restore), with the default policy at `--arms` (2,000) learned
 * arms; this tree against `--base=DIR` (another checkout, e.g. main), both in this process, alternated per round.
 * Each node follows the same published bytes (a memory snapshot store, or Redis with `--redis=URL`, what API nodes
 * use; no subscription, so the measured catch-up does it all). The memory store copies a full it hands out in one
 * go (~90 ms of CPU for 33 MB on the bench machine) where a base tree fetches it whole: Redis is the fair case. "block" is the longest gap between event-loop turns (wall ms, and the main thread's CPU ms of the
 * gap: the machine is shared, a wall gap includes waiting for a core); "total" the wall time until the node serves
 * the new version. Run: `node --expose-gc --import tsx bench/support/follower-join.ts --base=/tmp/base [--arms=2000]
 * [--rounds=3] [--redis=redis://127.0.0.1:6390]`.
 */
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ARMS = Number(arg("arms") ?? 2000);
const ROUNDS = Number(arg("rounds") ?? 3);
const REDIS = arg("redis");

interface Tree {
  name: string;
  PolicyFollowers: typeof PolicyFollowers;
  PolicyRegistry: typeof PolicyRegistry;
  createPolicy: typeof import("../../src/bandit/policy-types.js").createPolicy;
  DEFAULT_POLICY_SPEC: typeof import("../../src/bandit/policy-types.js").DEFAULT_POLICY_SPEC;
  EngineMetrics: typeof import("../../src/app/metrics.js").EngineMetrics;
}

async function loadTree(name: string, root: string): Promise<Tree> {
  const at = (p: string) => pathToFileURL(resolve(root, p)).href;
  const follower = await import(at("src/app/policy-follower.ts"));
  const registry = await import(at("src/bandit/policy-registry.ts"));
  const types = await import(at("src/bandit/policy-types.ts"));
  const metrics = await import(at("src/app/metrics.ts"));
  return {
    name,
    PolicyFollowers: follower.PolicyFollowers,
    PolicyRegistry: registry.PolicyRegistry,
    createPolicy: types.createPolicy,
    DEFAULT_POLICY_SPEC: types.DEFAULT_POLICY_SPEC,
    EngineMetrics: metrics.EngineMetrics,
  };
}

interface Published {
  version: number;
  kind: SnapshotKind;
  bytes: Uint8Array;
}

/** The learner's versions: a full (v1), then 3 deltas of 20 rewards and a full continuing v4 (fullEvery 4). */
async function publishedVersions(tree: Tree): Promise<Published[]> {
  const rng = new Xoshiro128(ARMS);
  const learner = tree.createPolicy("p", tree.DEFAULT_POLICY_SPEC);
  for (let i = 0; i < ARMS; i++) learner.update(armFeedback(rng, i));
  const out: Published[] = [];
  const store = createMemorySnapshotStore();
  const recording: SnapshotStore = Object.assign(Object.create(store) as SnapshotStore, {
    publish: async (name: string, version: number, bytes: Uint8Array, kind: SnapshotKind, fence?: number) => {
      out.push({ version, kind, bytes: new Uint8Array(bytes) });
      await store.publish(name, version, bytes, kind, fence);
    },
  });
  const publisher = new PolicyPublisher(recording, policySnapshotName("p"), 4);
  await publisher.publish(() => learner.snapshot(), 0);
  for (let v = 2; v <= 5; v++) {
    for (let k = 0; k < 20; k++) {
      const f = armFeedback(rng, Math.floor(rng.next() * ARMS));
      learner.update(f);
      publisher.record(f);
    }
    await publisher.publish(() => learner.snapshot(), v * 1000);
  }
  if (out.map((p) => p.kind).join() !== "full,delta,delta,delta,full") throw new Error("unexpected versions");
  return out;
}

let nodes = 0;

/** The memory store, or with `--redis=URL` a Redis one under a fresh prefix (removed at `drop`). */
function openStore(): { store: SnapshotStore; drop: () => Promise<void> } {
  if (!REDIS) return { store: createMemorySnapshotStore(), drop: async () => {} };
  const client = new Redis(REDIS);
  const keyPrefix = `bench-join-${process.pid}-${++nodes}`;
  const store = createRedisSnapshotStore(client, { keyPrefix, pollMs: 60_000 });
  const drop = async () => {
    const tag = `{${keyPrefix}:snap:${policySnapshotName("p")}}`;
    const keys = [`${tag}:index`, `${tag}:fence`, ...[1, 2, 3, 4, 5].map((v) => `${tag}:v:${v}`)];
    await client.del(...keys);
    await store.close();
    client.disconnect();
  };
  return { store, drop };
}

/** An API node of `tree` whose store holds `versions`; not subscribed (the measured catch-up does the work). */
async function node(tree: Tree, versions: Published[]) {
  const { store, drop } = openStore();
  for (const p of versions) await store.publish(policySnapshotName("p"), p.version, p.bytes, p.kind);
  const snapshots: SnapshotStore = Object.assign(Object.create(store) as SnapshotStore, {
    subscribe: async () => () => {},
  });
  const clock = new ManualClock(0);
  const registry = await tree.PolicyRegistry.open({ clock });
  const followers = new tree.PolicyFollowers({
    snapshots,
    registry,
    clock,
    metrics: new tree.EngineMetrics(),
    logger: pino({ level: "silent" }),
    maxStalenessMs: 60_000,
  });
  return { store, registry, followers, drop };
}

async function settled(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 50));
}

interface Sample extends LongestBlock {
  totalMs: number;
}

async function measured(work: () => Promise<unknown>): Promise<Sample> {
  await settled();
  const t = performance.now();
  const block = await longestBlock(work);
  return { ...block, totalMs: performance.now() - t };
}

async function join(tree: Tree, versions: Published[]): Promise<Sample> {
  const n = await node(tree, versions.slice(0, 1));
  try {
    const s = await measured(() => n.followers.follow("p"));
    if (n.followers.version("p") !== 1 || n.registry.find("p")?.version !== 1) throw new Error(`${tree.name}: no join`);
    return s;
  } finally {
    n.followers.close();
    await n.drop();
  }
}

async function lag(tree: Tree, versions: Published[]): Promise<Sample> {
  const n = await node(tree, versions.slice(0, 1));
  try {
    await n.followers.follow("p");
    const before = n.registry.find("p");
    for (const p of versions.slice(1)) await n.store.publish(policySnapshotName("p"), p.version, p.bytes, p.kind);
    const s = await measured(() => n.followers.catchUp());
    const served = n.registry.find("p");
    if (n.followers.version("p") !== 5 || served?.version !== 5 || served === before)
      throw new Error(`${tree.name}: no restore`);
    return s;
  } finally {
    n.followers.close();
    await n.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f1 = (x: number) => x.toFixed(1);

const here = await loadTree("this", resolve(import.meta.dirname, "../.."));
const baseDir = arg("base");
const trees = baseDir ? [await loadTree("base", baseDir), here] : [here];
const versions = await publishedVersions(here);
console.log(
  `default policy, ${ARMS} arms, full ${(versions[4]!.bytes.byteLength / 2 ** 20).toFixed(1)} MiB, store ${REDIS ? "Redis" : "memory"}`,
);
const results: Record<string, Record<string, Sample[]>> = {};
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? trees : [...trees].reverse();
  for (const [caseName, fn] of [
    ["join", join],
    ["lag", lag],
  ] as const) {
    for (const tree of order) {
      const s = await fn(tree, versions);
      const byTree = results[caseName] ?? {};
      results[caseName] = byTree;
      byTree[tree.name] = [...(byTree[tree.name] ?? []), s];
      console.log(
        `  round ${round + 1} ${caseName} ${tree.name}: block ${f1(s.wallMs)} ms wall / ${f1(s.cpuMs)} ms CPU, total ${f1(s.totalMs)} ms (load ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  }
}
for (const [caseName, byTree] of Object.entries(results)) {
  for (const [tree, samples] of Object.entries(byTree)) {
    const pick = (k: keyof Sample) => samples.map((s) => s[k]);
    console.log(
      `${caseName} ${tree}: longest block median ${f1(median(pick("wallMs")))} ms wall (max ${f1(Math.max(...pick("wallMs")))}), ` +
        `${f1(median(pick("cpuMs")))} ms CPU (max ${f1(Math.max(...pick("cpuMs")))}); total median ${f1(median(pick("totalMs")))} ms`,
    );
  }
}
