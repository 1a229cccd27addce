import { describe, expect, it } from "vitest";
import type { BasePolicy } from "../bandit/base-policy.js";
import type { PolicyFeedback } from "../bandit/policy.js";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { Xoshiro128 } from "../core/rng.js";
import { serializeWithHeader } from "../duties/learner-checkpoint.js";
import { TEST_POLICY_SPEC } from "../duties/learner-fixtures.js";
import {
  decodePolicyVersionHead,
  PolicyPublisher,
  policyFingerprint,
  policySnapshotName,
} from "../duties/learner-snapshots.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { EngineMetrics } from "./metrics.js";
import { testFollowers } from "./test-followers.js";

const T = Date.UTC(2026, 2, 2, 10);
const NAME = policySnapshotName("p");

function feedback(rng: Xoshiro128): PolicyFeedback {
  const candidates = Array.from({ length: 4 }, (_, j) => {
    const item = Math.floor(rng.next() * 9) + j * 9;
    return { id: `item${item}`, features: { price: item * 1.5, brand: `b${item % 3}` } };
  });
  const input = { context: { device: rng.next() < 0.5 ? "mobile" : "desktop" }, candidates };
  return {
    input,
    index: Math.floor(rng.next() * 4),
    position: 0,
    reward: rng.next(),
    propensity: 0.25,
    placedBefore: [],
  };
}

/** The parameters bit for bit, whatever version label each carries. */
const content = (policy: BasePolicy): string => policyFingerprint({ ...policy.snapshot(), version: 0 });

async function setUp() {
  const clock = new ManualClock(T);
  const snapshots = createMemorySnapshotStore();
  const publisher = new PolicyPublisher(snapshots, NAME, 2); // deltas and fulls in turn
  const learner = createPolicy("p", TEST_POLICY_SPEC);
  const rng = new Xoshiro128(5);
  await publisher.publish(() => learner.snapshot(), clock.now());
  const registry = await PolicyRegistry.open({ clock });
  const followers = testFollowers({ snapshots, registry, clock, metrics: new EngineMetrics() });
  await followers.follow("p");
  /** Learns `n` rewards and publishes them: the kind published, whether the node kept its mirror, and serves the learner's state. */
  const step = async (n: number) => {
    const before = registry.find("p");
    for (let k = 0; k < n; k++) {
      const f = feedback(rng);
      learner.update(f);
      publisher.record(f);
    }
    clock.advance(1_000);
    const version = (await publisher.publish(() => learner.snapshot(), clock.now(), true))!;
    await followers.catchUp();
    const latest = (await snapshots.latest(NAME))!;
    expect(latest.version).toBe(version);
    expect(followers.version("p")).toBe(version);
    const served = registry.find("p")!;
    if (n > 0 || latest.kind === "full") expect(served.version).toBe(version); // a heartbeat keeps the label
    const bytes = (await snapshots.since(NAME, version - 1)).at(-1)!.bytes;
    return { kind: latest.kind, kept: served === before, equal: content(served) === content(learner), bytes };
  };
  return { clock, snapshots, publisher, learner, registry, followers, step, rng };
}

describe("an up-to-date API node and the learner's fulls", () => {
  it("replays a full that continues its version, and restores one that does not or whose check fails", async () => {
    const { publisher, registry, followers, step, rng } = await setUp();
    try {
      expect(await step(3)).toMatchObject({ kind: "delta", kept: true, equal: true });
      const continued = await step(4);
      expect(continued).toMatchObject({ kind: "full", kept: true, equal: true }); // the snapshot was never decoded
      expect(decodePolicyVersionHead(continued.bytes)).toMatchObject({ continues: { follows: 2 } });
      // The served mirror drifts from the learner's (as if this node's update differed): the next full's
      // progress check fails, and the node restores the snapshot instead of serving the drift as fresh.
      registry.find("p")!.update(feedback(rng));
      expect(await step(2)).toMatchObject({ kind: "delta", kept: true, equal: false });
      expect(await step(2)).toMatchObject({ kind: "full", kept: false, equal: true });
      // A resync (the policy replaced) publishes a full that continues nothing: restored.
      publisher.resync();
      const resynced = await step(1);
      expect(resynced).toMatchObject({ kind: "full", kept: false, equal: true });
      expect(decodePolicyVersionHead(resynced.bytes)).not.toHaveProperty("continues");
      expect(await step(0)).toMatchObject({ kind: "delta", kept: true, equal: true });
      expect(await step(5)).toMatchObject({ kind: "full", kept: true, equal: true });
    } finally {
      followers.close();
    }
  });

  it("still reads versions of format 1 (a full is restored, a delta replayed)", async () => {
    const { clock, snapshots, learner, registry, followers, rng } = await setUp();
    const format1 = (value: unknown) => serializeWithHeader([0x4c, 0x57, 0x50], 1, value);
    try {
      const updates = [feedback(rng), feedback(rng)];
      for (const f of updates) learner.update(f);
      await snapshots.publish(NAME, 2, format1({ kind: "delta", publishedAt: clock.now(), updates }), "delta");
      await followers.catchUp();
      expect(registry.find("p")!.version).toBe(2);
      expect(content(registry.find("p")!)).toBe(content(learner));
      const before = registry.find("p");
      learner.update(feedback(rng));
      const policy = learner.snapshot();
      await snapshots.publish(NAME, 3, format1({ kind: "full", publishedAt: clock.now(), policy }), "full");
      await followers.catchUp();
      const served = registry.find("p")!;
      expect(served).not.toBe(before);
      expect(served.version).toBe(3);
      expect(content(served)).toBe(content(learner));
    } finally {
      followers.close();
    }
  });
});
