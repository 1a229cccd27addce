import { loadavg } from "node:os";
import { pino } from "pino";
import { EngineMetrics } from "../../src/app/metrics.js";
import { PolicyFollowers } from "../../src/app/policy-follower.js";
import type { BasePolicy } from "../../src/bandit/base-policy.js";
import { PolicyRegistry } from "../../src/bandit/policy-registry.js";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "../../src/bandit/policy-types.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import {
  decodePolicyVersion,
  encodePolicyVersion,
  PolicyPublisher,
  policySnapshotName,
} from "../../src/duties/learner-snapshots.js";
import { createMemorySnapshotStore } from "../../src/storage/memory/snapshot-store-memory.js";
import type { Snapshot, SnapshotStore } from "../../src/stream/snapshot-store.js";
import { armFeedback } from "./arm-feedback.js";

/**
 * Probe (issue 12 "no stalls" on issue 13's scale-out path): what one version swap of an API node's policy
 * follower costs on its event loop with the default policy at `arms` learned arms. "copy" is what the follower
 * did per published version with updates (`restorePolicy({ ...mirror.snapshot(), version })`); "in place" is
 * serving the mirror itself (`servedAs(version)`). A delta of 20 rewards is replayed before each swap (both
 * paths pay it; timed apart). "full" is what a full version (every `fullEvery`, default 50) still costs both:
 * decoding and restoring it. "follower" runs the real publisher and follower (memory snapshot store) at a full every
 * 5th version: what applying a full costs an up-to-date node (it replays the full's carried 20 updates and checks
 * its progress) beside what restoring that same full costs (the node before stop 25, and any node that is behind).
 * Wall ms and process CPU ms (GC threads included). Run:
 * `node --expose-gc --import tsx bench/support/follower-swap.ts [arms...]`.
 */
function learned(arms: number, rng: Xoshiro128): BasePolicy {
  const policy = createPolicy("default", DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) policy.update(armFeedback(rng, i));
  return policy;
}

/** Wall and CPU ms of `fn`. */
function timed(fn: () => void): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  fn();
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: (used.user + used.system) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Samples = { wall: number[]; cpu: number[] };
const samples = (): Samples => ({ wall: [], cpu: [] });
function add(to: Samples, t: { wall: number; cpu: number }): void {
  to.wall.push(t.wall);
  to.cpu.push(t.cpu);
}
function summary(s: Samples): string {
  const f = (x: number) => x.toFixed(3);
  return `wall median ${f(median(s.wall))} max ${f(Math.max(...s.wall))}, cpu median ${f(median(s.cpu))} ms`;
}

function run(arms: number, swaps: number): void {
  const rng = new Xoshiro128(arms);
  const mirror = learned(arms, rng);
  const [copy, inPlace, replay, full] = [samples(), samples(), samples(), samples()];
  let kept: BasePolicy | undefined;
  for (let v = 2; v < 2 + swaps; v++) {
    add(
      replay,
      timed(() => {
        for (let k = 0; k < 20; k++) mirror.update(armFeedback(rng, Math.floor(rng.next() * arms)));
      }),
    );
    // Alternate which path runs first, so neither always meets a warmer cache or a pending GC.
    const paths = [
      () =>
        add(
          copy,
          timed(() => (kept = restorePolicy({ ...mirror.snapshot(), version: v }))),
        ),
      () =>
        add(
          inPlace,
          timed(() => mirror.servedAs(v)),
        ),
    ];
    if (v % 2 === 1) paths.reverse();
    for (const p of paths) p();
    if (v % 5 === 0) {
      const bytes = encodePolicyVersion({ kind: "full", publishedAt: 0, policy: mirror.snapshot() });
      add(
        full,
        timed(() => {
          const decoded = decodePolicyVersion(bytes);
          if (decoded.kind === "full") kept = restorePolicy({ ...decoded.policy, version: v });
        }),
      );
    }
  }
  console.log(`default policy, ${arms} arms, ${swaps} versions (load ${loadavg()[0]!.toFixed(1)}):`);
  console.log(`  swap by copy:     ${summary(copy)}`);
  console.log(`  swap in place:    ${summary(inPlace)}`);
  console.log(`  replay 20 rewards:${summary(replay)}`);
  console.log(`  full (decode+restore, both): ${summary(full)}`);
  if (kept === undefined) throw new Error("copy path did not run");
}

/** Memory a served copy held beside the mirror (what serving in place no longer keeps): run with --expose-gc. */
function copyBytes(arms: number): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return "(run node with --expose-gc for the memory of a copy)";
  const mirror = learned(arms, new Xoshiro128(arms));
  gc();
  const before = process.memoryUsage();
  const copy = restorePolicy({ ...mirror.snapshot(), version: 2 });
  gc();
  const after = process.memoryUsage();
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const held = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  return `a served copy of ${copy.id} at ${arms} arms held ${mib(held)} MiB (heap + array buffers) beside the mirror`;
}

/** After a collection, a pause for its concurrent sweeping to end (else it holds the next timed allocation). */
async function settled(gc: () => void): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 30));
}

/** `fn`'s wall and CPU ms, awaited (nothing else runs meanwhile). */
async function timedAsync(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: (used.user + used.system) / 1000 };
}

/** An up-to-date follower applying fulls (replayed) and deltas, and the same fulls restored, alternately. */
async function follower(arms: number, versions: number): Promise<void> {
  const rng = new Xoshiro128(arms + 1);
  const learner = learned(arms, rng);
  const clock = new ManualClock(0);
  const snapshots = createMemorySnapshotStore();
  const name = policySnapshotName(learner.id);
  const publisher = new PolicyPublisher(snapshots, name, 5);
  await publisher.publish(() => learner.snapshot(), clock.now());
  const registry = await PolicyRegistry.open({ clock });
  const logger = pino({ level: "silent" });
  // Unsubscribed, so that each version is applied in the timed catch-up rather than on its publish's notification;
  // its fetch (the memory store copies the bytes it returns: ~35 MB for a full at 2,000 arms) is timed apart.
  let fetched: Snapshot[] | undefined;
  const unsubscribed: SnapshotStore = Object.assign(Object.create(snapshots) as SnapshotStore, {
    subscribe: async () => () => {},
    since: async (n: string, have: number | undefined) => fetched ?? snapshots.since(n, have),
  });
  const metrics = new EngineMetrics();
  const options = { snapshots: unsubscribed, registry, clock, metrics, logger, maxStalenessMs: 60_000 };
  const followers = new PolicyFollowers(options);
  await followers.follow(learner.id);
  const [fullApplied, deltaApplied, restored, fetch] = [samples(), samples(), samples(), samples()];
  let kept: BasePolicy | undefined;
  for (let v = 2; v < 2 + versions; v++) {
    for (let k = 0; k < 20; k++) {
      const f = armFeedback(rng, Math.floor(rng.next() * arms));
      learner.update(f);
      publisher.record(f);
    }
    clock.advance(1_000);
    await publisher.publish(() => learner.snapshot(), clock.now());
    add(
      fetch,
      await timedAsync(async () => {
        fetched = await snapshots.since(name, v - 1);
      }),
    );
    const [latest] = fetched!.slice(-1);
    const before = registry.find(learner.id);
    // A collection first (with --expose-gc): each path is timed without the previous one's garbage (a restore
    // leaves ~100 MB at 2,000 arms), which would otherwise land in whichever runs next.
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
    const apply = async () => {
      await settled(gc);
      return timedAsync(() => followers.catchUp());
    };
    const restore = async () => {
      await settled(gc);
      return timed(() => {
        const decoded = decodePolicyVersion(latest!.bytes);
        if (decoded.kind === "full") kept = restorePolicy({ ...decoded.policy, version: v });
      });
    };
    if (latest!.kind === "delta") add(deltaApplied, await apply());
    else if (v % 2 === 0) {
      add(fullApplied, await apply());
      add(restored, await restore());
    } else {
      add(restored, await restore());
      add(fullApplied, await apply());
    }
    fetched = undefined;
    if (followers.version(learner.id) !== v) throw new Error(`version ${v} was not applied`);
    if (latest!.kind === "full" && registry.find(learner.id) !== before) throw new Error("the full was restored");
  }
  followers.close();
  console.log(`  follower, full every 5th of ${versions} versions of 20 rewards (load ${loadavg()[0]!.toFixed(1)}):`);
  console.log(`    full applied, up to date: ${summary(fullApplied)}`);
  console.log(`    delta applied:            ${summary(deltaApplied)}`);
  console.log(`    same full restored:       ${summary(restored)}`);
  console.log(`    (fetching a version from the memory store, untimed above: ${summary(fetch)})`);
  if (kept === undefined) throw new Error("restore path did not run");
}

const sizes = process.argv.slice(2).map(Number);
for (const arms of sizes.length > 0 ? sizes : [500, 2000]) {
  run(arms, 15);
  await follower(arms, 25);
  console.log(`  ${copyBytes(arms)}`);
}
