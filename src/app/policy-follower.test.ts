import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { rngFor } from "../core/rng.js";
import { readCheckpointedPolicy } from "../duties/learner-checkpoint.js";
import { createLearnerDuty } from "../duties/learner-duty.js";
import { learnerContext, learnerStream, TEST_POLICY_SPEC } from "../duties/learner-fixtures.js";
import { PolicyPublisher, policyFingerprint, policySnapshotName } from "../duties/learner-snapshots.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { createRedisDecisionStream } from "../storage/redis/decision-stream-redis.js";
import { createRedisLeaseStore } from "../storage/redis/lease-store-redis.js";
import { createRedisSnapshotStore } from "../storage/redis/snapshot-store-redis.js";
import { describeOnRedis } from "../storage/redis/test-redis.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import { createEngine } from "./engine.js";
import { EngineMetrics } from "./metrics.js";
import { testFollowers } from "./test-followers.js";

const T = Date.UTC(2026, 2, 2, 10);
const WINDOW = 60_000;
const DECISIONS = 80;
const END = T + DECISIONS * 1_000 + 10 * WINDOW;

async function storeWithPolicy(): Promise<MemoryPolicyStore> {
  const store = new MemoryPolicyStore();
  await store.save(createPolicy("p", TEST_POLICY_SPEC).snapshot(), T);
  return store;
}

/** An API node: its own registry (opened from its own store, as at start-up) following the snapshots. */
async function apiNode(snapshots: SnapshotStore, clock: ManualClock) {
  const registry = await PolicyRegistry.open({ clock, store: await storeWithPolicy() });
  const metrics = new EngineMetrics();
  const followers = testFollowers({ snapshots, registry, clock, metrics, maxStalenessMs: 5_000 });
  await followers.follow("p");
  return { registry, metrics, followers };
}

/** A policy's exact parameters, under one version label (the follower labels its copy with the snapshot version). */
const fingerprintAs = (snapshot: PolicySnapshot, version: number): string =>
  policyFingerprint({ ...snapshot, version });

describe("policy followers on API nodes", () => {
  it("reach the learner's version through fulls and deltas, with its exact parameters and equal propensities", async () => {
    const clock = new ManualClock(T);
    const adapters = {
      stream: createMemoryDecisionStream({ partitions: 2 }),
      leases: createMemoryLeaseStore(clock),
      snapshots: createMemorySnapshotStore({ keepFull: 2 }),
    };
    const ctx = learnerContext({ adapters, policies: await storeWithPolicy(), clock, workerId: "w", windowMs: WINDOW });
    const learner = createLearnerDuty(ctx, "p", { checkpointEvery: 15, maxEntriesPerStep: 15, fullEvery: 4 });
    await learner.start((await adapters.leases.acquire(learner.name, "w", 60_000))!);
    const early = await apiNode(adapters.snapshots, clock);

    await adapters.stream.append(learnerStream({ policyId: "p", decisions: DECISIONS, windowMs: WINDOW, start: T }));
    let checkedOnDelta = 0;
    let fullsReplayed = 0;
    for (let i = 0; i < 40; i++) {
      const before = { version: learner.status()!.published, served: early.registry.find("p") };
      await learner.step(T + i * 3_000);
      await early.followers.catchUp();
      // What was published is the last checkpoint's policy: the follower must hold exactly it.
      const published = (await readCheckpointedPolicy(adapters.leases, learner.name, WINDOW))!.snapshot();
      const served = early.registry.find("p")!.snapshot();
      expect(early.followers.version("p")).toBe(learner.status()!.published);
      expect(fingerprintAs(served, published.version)).toBe(fingerprintAs(published, published.version));
      const latest = await adapters.snapshots.latest(policySnapshotName("p"));
      if (latest?.kind === "delta") checkedOnDelta++;
      // A periodic full the node was up to date for: its carried updates replayed on the served mirror.
      const newFull = latest?.kind === "full" && latest.version !== before.version;
      if (newFull && early.registry.find("p") === before.served) fullsReplayed++;
    }
    expect(checkedOnDelta).toBeGreaterThan(10);
    expect(fullsReplayed).toBeGreaterThan(1);
    await learner.step(END);
    await learner.checkpoint(END);
    const late = await apiNode(adapters.snapshots, clock); // joins after retention dropped the early versions

    const published = learner.status()!.published!;
    const kinds = (await adapters.snapshots.versions(policySnapshotName("p"))).map((v) => v.kind);
    expect(kinds).toContain("delta");
    expect(published).toBeGreaterThan(8);
    await early.followers.catchUp();
    const learned = learner.policy!.snapshot();
    expect(learned.progress.updates).toBeGreaterThan(50);
    for (const node of [early, late]) {
      expect(node.followers.version("p")).toBe(published);
      const served = node.registry.find("p")!;
      expect(served.version).toBe(published); // what rank logs as the decision's policy version
      expect(fingerprintAs(served.snapshot(), learned.version)).toBe(fingerprintAs(learned, learned.version));
    }
    const input = {
      context: { device: "mobile", hour: 9 },
      candidates: Array.from({ length: 6 }, (_, j) => ({
        id: `item${j}-${j}`,
        features: { price: j * 3, brand: `b${j % 3}` },
      })),
    };
    const choices = [early, late].map((n) => n.registry.get("p")!.rank(input, 2, rngFor("explore", "dec-1")));
    expect(choices[0]).toEqual(choices[1]);
    expect(choices[0]!.map((c) => c.propensity).every((p) => p > 0 && p <= 1)).toBe(true);
  });

  it("says when the served policy is older than the staleness bound, in /metrics and to rank", async () => {
    const clock = new ManualClock(T);
    const adapters = {
      stream: createMemoryDecisionStream({ partitions: 1 }),
      leases: createMemoryLeaseStore(clock),
      snapshots: createMemorySnapshotStore(),
    };
    const node = await apiNode(adapters.snapshots, clock);
    expect(node.registry.isStale("p")).toBe(true); // followed, no version yet
    const ctx = learnerContext({ adapters, policies: await storeWithPolicy(), clock, workerId: "w", windowMs: WINDOW });
    const learner = createLearnerDuty(ctx, "p", { checkpointMs: 1_000 });
    await learner.start((await adapters.leases.acquire(learner.name, "w", 60_000))!);
    await node.followers.catchUp();
    expect(node.followers.version("p")).toBe(1);
    expect(node.registry.isStale("p")).toBe(false);

    clock.advance(6_000);
    expect(node.registry.isStale("p")).toBe(true);
    const text = await node.metrics.registry.metrics();
    expect(text).toContain('loopwise_policy_snapshot_version{policy="p"} 1');
    expect(text).toContain('loopwise_policy_snapshot_age_seconds{policy="p"} 6');

    await learner.step(clock.now()); // nothing new for 6 s: the learner publishes a heartbeat
    await node.followers.catchUp();
    expect(node.followers.version("p")).toBe(2);
    expect(node.registry.isStale("p")).toBe(false);
    expect(node.registry.find("p")!.version).toBe(1); // an empty delta changes no parameters: no new label
    expect(node.registry.isStale("unfollowed")).toBe(false);
  });

  it("starts while the snapshot store is unreachable, stale until a later catch-up succeeds", async () => {
    const clock = new ManualClock(T);
    const store = createMemorySnapshotStore();
    await new PolicyPublisher(store, policySnapshotName("p"), 10).publish(
      () => createPolicy("p", TEST_POLICY_SPEC).snapshot(),
      T,
    );
    let down = true;
    const flaky: SnapshotStore = Object.assign(Object.create(store) as SnapshotStore, {
      since: (name: string, have: number | undefined) =>
        down ? Promise.reject(new Error("ECONNREFUSED")) : store.since(name, have),
    });
    const node = await apiNode(flaky, clock);
    expect(node.followers.version("p")).toBeUndefined();
    expect(node.registry.isStale("p")).toBe(true);
    down = false;
    await node.followers.catchUp();
    expect(node.followers.version("p")).toBe(1);
    expect(node.registry.isStale("p")).toBe(false);
  });

  it("makes rank log the snapshot version it served, and say when that version is stale", async () => {
    const clock = new ManualClock(T);
    const engine = await createEngine({ dataDir: ":memory:", logger: pino({ level: "silent" }), clock });
    try {
      const snapshots = createMemorySnapshotStore();
      const publisher = new PolicyPublisher(snapshots, policySnapshotName("default"), 10);
      const learnerCopy = engine.parts.policies.find("default")!;
      await publisher.publish(() => learnerCopy.snapshot(), clock.now());
      const followers = testFollowers({
        snapshots,
        registry: engine.parts.policies,
        clock,
        metrics: engine.parts.metrics,
        maxStalenessMs: 5_000,
      });
      await followers.follow("default");
      const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];
      const first = await engine.rank({ userId: "u", candidates });
      const before = engine.parts.policies.find("default")!;
      expect(first.fallbacks).toEqual([]);
      expect((await engine.decisions.get(first.decisionId))!.decision.policy.version).toBe(1);
      // The learner learns from that decision and publishes the update as a delta (version 2).
      const logged = (await engine.decisions.get(first.decisionId))!.decision;
      const feedback = {
        input: { context: logged.context, profile: logged.features, candidates: logged.candidates },
        index: logged.slots[0]!.index,
        position: 0,
        reward: 1,
        propensity: logged.slots[0]!.propensity,
        placedBefore: [],
      };
      learnerCopy.update(feedback);
      publisher.record(feedback);
      await publisher.publish(() => learnerCopy.snapshot(), clock.now());
      await followers.catchUp();
      const second = await engine.rank({ userId: "u", candidates });
      expect((await engine.decisions.get(second.decisionId))!.decision.policy.version).toBe(2);
      // Served in place (no copy per version): the same object, now holding version 2's update and label.
      expect(engine.parts.policies.find("default")).toBe(before);
      expect(before.updates).toBe(1);
      clock.advance(5_001);
      const stale = await engine.rank({ userId: "u", candidates });
      expect(stale.fallbacks).toEqual(["policy_stale:default"]);
      expect(stale.policy.id).toBe("default"); // still served
      followers.close();
    } finally {
      await engine.close();
    }
  });
});

describeOnRedis("policy followers", (redis) => {
  it("two API nodes follow the learner through Redis (pub/sub and polling) to its version and parameters", async () => {
    const keyPrefix = redis.freshPrefix();
    const clock = new ManualClock(T);
    const snapshots = createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 50 });
    const adapters = {
      stream: createRedisDecisionStream(redis.client(), { partitions: 2, keyPrefix }),
      leases: createRedisLeaseStore(redis.client(), keyPrefix),
      snapshots,
    };
    const ctx = learnerContext({ adapters, policies: await storeWithPolicy(), clock, workerId: "w", windowMs: WINDOW });
    const learner = createLearnerDuty(ctx, "p", { checkpointEvery: 40, fullEvery: 3 });
    await learner.start((await adapters.leases.acquire(learner.name, "w", 60_000))!);
    const nodeStores = [0, 1].map(() => createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 50 }));
    const nodes = [await apiNode(nodeStores[0]!, clock), await apiNode(nodeStores[1]!, clock)];
    try {
      await adapters.stream.append(learnerStream({ policyId: "p", decisions: 30, windowMs: WINDOW, start: T }));
      for (let i = 0; i < 6; i++) await learner.step(T + i * 20_000);
      await learner.step(END);
      await learner.checkpoint(END);
      const published = learner.status()!.published!;
      // Notified by pub/sub or the poll: wait (bounded) until both are there; no timing is asserted.
      for (let i = 0; i < 200 && nodes.some((n) => n.followers.version("p") !== published); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const learned = learner.policy!.snapshot();
      expect(learned.progress.updates).toBeGreaterThan(10);
      for (const node of nodes) {
        expect(node.followers.version("p")).toBe(published);
        expect(fingerprintAs(node.registry.find("p")!.snapshot(), 1)).toBe(fingerprintAs(learned, 1));
      }
    } finally {
      for (const n of nodes) n.followers.close();
      for (const store of [snapshots, ...nodeStores]) await store.close();
    }
  });
});

describe("policy followers closed while subscribing", () => {
  it("end the subscription that resolves after close (no listener left behind)", async () => {
    const clock = new ManualClock(T);
    const store = createMemorySnapshotStore({ keepFull: 2 });
    let subscribed = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The store's subscribe answers only once the gate opens: close() runs before follow() has its stop.
    const slow: SnapshotStore = {
      ...store,
      async subscribe(name, onVersion) {
        await gate;
        const stop = await store.subscribe(name, onVersion);
        subscribed++;
        return () => {
          subscribed--;
          stop();
        };
      },
    };
    const registry = await PolicyRegistry.open({ clock, store: await storeWithPolicy() });
    const followers = testFollowers({ snapshots: slow, registry, clock });
    const following = followers.follow("p");
    followers.close();
    release();
    await following;
    expect(subscribed).toBe(0);
    await store.close();
  });
});
