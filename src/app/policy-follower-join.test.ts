import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { BasePolicy } from "../bandit/base-policy.js";
import type { PolicyFeedback } from "../bandit/policy.js";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import { createPolicy, restorePolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { Xoshiro128 } from "../core/rng.js";
import { TEST_POLICY_SPEC } from "../duties/learner-fixtures.js";
import {
  decodePolicyVersion,
  encodePolicyVersion,
  PolicyPublisher,
  policyFingerprint,
  policySnapshotName,
  policyVersionHeadEnd,
} from "../duties/learner-snapshots.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { SinceOptions, SnapshotStore } from "../stream/snapshot-store.js";
import { testFollowers } from "./test-followers.js";

const T = Date.UTC(2026, 2, 2, 10);
const NAME = policySnapshotName("p");
/** Enough arms that a restore takes several turns (ARMS_PER_TURN is 32). */
const ITEMS = 300;

function feedback(rng: Xoshiro128): PolicyFeedback {
  const candidates = Array.from({ length: 3 }, (_, j) => {
    const item = Math.floor(rng.next() * ITEMS);
    return { id: `item${item}`, features: { price: (item % 40) * 1.5 + j, brand: `b${item % 3}` } };
  });
  const input = { context: { device: rng.next() < 0.5 ? "mobile" : "desktop" }, candidates };
  const index = Math.floor(rng.next() * 3);
  return { input, index, position: 0, reward: rng.next(), propensity: 1 / 3, placedBefore: [] };
}

/** The parameters bit for bit, whatever version label each carries. */
const content = (policy: BasePolicy): string => policyFingerprint({ ...policy.snapshot(), version: 0 });

async function setUp(fullEvery = 1_000) {
  const clock = new ManualClock(T);
  const snapshots = createMemorySnapshotStore();
  const publisher = new PolicyPublisher(snapshots, NAME, fullEvery);
  const learner = createPolicy("p", TEST_POLICY_SPEC);
  const rng = new Xoshiro128(11);
  const learn = (n: number) => {
    for (let k = 0; k < n; k++) {
      const f = feedback(rng);
      learner.update(f);
      publisher.record(f);
    }
  };
  learn(600);
  await publisher.publish(() => learner.snapshot(), clock.now());
  const registry = await PolicyRegistry.open({ clock });
  const followers = testFollowers({ snapshots, registry, clock });
  await followers.follow("p");
  return { clock, snapshots, publisher, learner, registry, followers, learn };
}

/** What the registry served at each event-loop turn while `work` ran: the policy object and its label. */
async function servedEachTurn(registry: PolicyRegistry, work: Promise<unknown>) {
  const seen: { policy: BasePolicy | undefined; version: number | undefined }[] = [];
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  while (!done) {
    const policy = registry.find("p");
    seen.push({ policy, version: policy?.version });
    await nextTurn();
  }
  await finished;
  const policy = registry.find("p");
  seen.push({ policy, version: policy?.version });
  return seen;
}

describe("an API node that joins or falls behind", () => {
  it("restores a full beside the version it serves, over many turns, then swaps it in whole", async () => {
    const { clock, snapshots, publisher, learner, registry, followers, learn } = await setUp();
    try {
      const joined = registry.find("p")!;
      expect(joined.version).toBe(1);
      expect(content(joined)).toBe(content(learner)); // the join itself restored the first full exactly
      const old = content(joined);
      // The policy replaced on the learner: the next full continues nothing, so the node must restore it.
      learn(200);
      publisher.resync();
      clock.advance(1_000);
      const version = (await publisher.publish(() => learner.snapshot(), clock.now()))!;
      const [full] = await snapshots.since(NAME, version - 1);
      const decoded = decodePolicyVersion(full!.bytes);
      if (decoded.kind !== "full") throw new Error("expected a full");
      const oldWay = restorePolicy(decoded.policy);

      const seen = await servedEachTurn(registry, followers.catchUp());
      const restored = registry.find("p")!;
      expect(restored).not.toBe(joined);
      expect(restored.version).toBe(version);
      // Bit for bit what restoring it the old way (at once, here) gives, and what the learner holds.
      expect(content(restored)).toBe(content(oldWay));
      expect(content(restored)).toBe(content(learner));
      // The event loop turned while it restored; each turn saw the old version whole or the new one whole.
      expect(seen.length).toBeGreaterThan(10);
      const swap = seen.findIndex((s) => s.policy === restored);
      expect(swap).toBe(seen.length - 1);
      for (const [i, s] of seen.entries()) {
        if (i < swap) expect(s).toEqual({ policy: joined, version: 1 });
        else expect(s).toEqual({ policy: restored, version });
      }
      expect(content(joined)).toBe(old); // nothing of the new version reached the one being served
    } finally {
      followers.close();
    }
  });

  it("reads only the head of a full it can replay, and the rest of one it must restore in parts", async () => {
    const { clock, snapshots, publisher, learner, learn } = await setUp(2); // v1 full, then a delta and a full in turn
    const fetched = { since: 0, range: [] as number[] };
    const total = () => fetched.since + fetched.range.reduce((a, b) => a + b, 0);
    // Unsubscribed: the node catches up only when told, so it can be left behind.
    const counting: SnapshotStore = Object.assign(Object.create(snapshots) as SnapshotStore, {
      subscribe: async () => () => {},
      since: async (name: string, have: number | undefined, options?: SinceOptions) => {
        const out = await snapshots.since(name, have, options);
        for (const v of out) fetched.since += v.bytes.byteLength;
        return out;
      },
      range: async (name: string, version: number, start: number, end: number) => {
        const out = await snapshots.range(name, version, start, end);
        fetched.range.push(out?.byteLength ?? 0);
        return out;
      },
    });
    const registry = await PolicyRegistry.open({ clock });
    const node = testFollowers({ snapshots: counting, registry, clock });
    const publish = async (rewards: number) => {
      learn(rewards);
      clock.advance(1_000);
      const version = (await publisher.publish(() => learner.snapshot(), clock.now()))!;
      const size = (await snapshots.since(NAME, version - 1)).at(-1)!.bytes.byteLength;
      Object.assign(fetched, { since: 0, range: [] });
      return { version, size };
    };
    try {
      await node.follow("p");
      const joinSize = (await snapshots.since(NAME, undefined))[0]!.bytes.byteLength;
      expect(joinSize).toBeGreaterThan(2 * 64 * 1024); // past the prefix: the join read the rest in parts
      expect(total()).toBe(joinSize);
      expect(fetched.range.length).toBeGreaterThan(0);
      await publish(30); // v2, a delta
      await node.catchUp();
      const mirror = registry.find("p");
      const continued = await publish(30); // v3, a full continuing v2
      await node.catchUp();
      expect(registry.find("p")).toBe(mirror); // replayed on the served mirror
      expect(registry.find("p")!.version).toBe(continued.version);
      expect(total()).toBeLessThanOrEqual(64 * 1024); // its head (within the prefix), not its snapshot
      expect(continued.size).toBeGreaterThan(2 * 64 * 1024);
      // A full continuing a version of many updates: a head past the prefix, its rest read, still not the snapshot.
      await publish(30); // v4, a delta
      await node.catchUp();
      const bigHead = await publish(1_500); // v5, a full carrying 1,500 updates
      await node.catchUp();
      expect(registry.find("p")).toBe(mirror);
      expect(registry.find("p")!.version).toBe(bigHead.version);
      const [v5] = await snapshots.since(NAME, bigHead.version - 1);
      const headEnd = policyVersionHeadEnd(v5!.bytes)!;
      expect(headEnd).toBeGreaterThan(64 * 1024);
      expect(total()).toBe(headEnd);
      // The node misses v6 (a delta) and sees v7, a full continuing v6: it must restore v7, read whole in parts.
      await publish(30);
      const behind = await publish(30);
      await node.catchUp();
      expect(registry.find("p")).not.toBe(mirror);
      expect(registry.find("p")!.version).toBe(behind.version);
      expect(content(registry.find("p")!)).toBe(content(learner));
      expect(total()).toBe(behind.size);
      expect(Math.max(...fetched.range)).toBeLessThanOrEqual(2 ** 20);
    } finally {
      node.close();
    }
  });

  it("keeps serving its version when a full cannot be decoded, and takes the next good one", async () => {
    const { clock, snapshots, publisher, learner, registry, followers, learn } = await setUp();
    try {
      const joined = registry.find("p")!;
      const old = content(joined);
      // A full whose head reads but whose snapshot is cut short: the decoder thread fails on it.
      const good = encodePolicyVersion({ kind: "full", publishedAt: clock.now(), policy: learner.snapshot() });
      await snapshots.publish(NAME, 2, good.subarray(0, good.byteLength - 4096), "full");
      await expect(followers.catchUp()).rejects.toThrow(/policy version decoding failed/);
      expect(registry.find("p")).toBe(joined);
      expect(joined.version).toBe(1);
      expect(followers.version("p")).toBe(1);
      expect(content(joined)).toBe(old);
      learn(50);
      publisher.resync();
      const version = (await publisher.publish(() => learner.snapshot(), clock.now()))!;
      await followers.catchUp();
      expect(version).toBe(3);
      expect(registry.find("p")!.version).toBe(3);
      expect(content(registry.find("p")!)).toBe(content(learner));
    } finally {
      followers.close();
    }
  });
});
