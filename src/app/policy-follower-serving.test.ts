import { describe, expect, it } from "vitest";
import type { BasePolicy } from "../bandit/base-policy.js";
import type { PolicyFeedback, PolicyInput, PolicySpec } from "../bandit/policy.js";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import { createPolicy, restorePolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { rngFor, Xoshiro128 } from "../core/rng.js";
import { TEST_POLICY_SPEC } from "../duties/learner-fixtures.js";
import { PolicyPublisher, policySnapshotName } from "../duties/learner-snapshots.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import { EngineMetrics } from "./metrics.js";
import { testFollowers } from "./test-followers.js";

const T = Date.UTC(2026, 2, 2, 10);
const ITEMS = 14;

/** A request over `n` of the catalog's items (some never rewarded yet: the prior path), in a random context. */
function request(rng: Xoshiro128, n: number): PolicyInput {
  const first = Math.floor(rng.next() * ITEMS);
  return {
    context: { device: rng.next() < 0.5 ? "mobile" : "desktop", hour: Math.floor(rng.next() * 24) },
    candidates: Array.from({ length: n }, (_, j) => {
      const item = (first + j * 3) % ITEMS;
      return { id: `item${item}`, features: { price: item * 2.5, brand: `b${item % 4}` } };
    }),
  };
}

function feedback(rng: Xoshiro128): PolicyFeedback {
  const input = request(rng, 5);
  const index = Math.floor(rng.next() * input.candidates.length);
  return { input, index, position: 0, reward: rng.next() < 0.4 ? 1 : 0, propensity: 0.2, placedBefore: [] };
}

/** What the node served before it served in place: a fresh copy of the published state under its version. */
function restoredCopy(learner: BasePolicy, version: number): BasePolicy {
  return restorePolicy({ ...learner.snapshot(), version });
}

/** The policy a node that starts following now serves: it restores the newest full (and deltas after it). */
async function joined(snapshots: SnapshotStore, clock: ManualClock): Promise<BasePolicy> {
  const registry = await PolicyRegistry.open({ clock });
  const followers = testFollowers({ snapshots, registry, clock, metrics: new EngineMetrics() });
  await followers.follow("p");
  followers.close();
  return registry.find("p")!;
}

/** The test policy (hybrid: shared diagonal + per-item arms, serving epochs), with arm eviction, and a non-Thompson type. */
const SPECS: [string, PolicySpec][] = [
  ["hybrid Thompson", TEST_POLICY_SPEC],
  ["hybrid Thompson evicting arms", { ...TEST_POLICY_SPEC, params: { ...TEST_POLICY_SPEC.params, maxArms: 6 } }],
  ["LinUCB", { type: "linucb", features: { dims: 1024, interactions: true } }],
];

describe("an API node serving its policy mirror in place", () => {
  it.each(SPECS)("%s: serves exactly what a restored copy of each published version serves", async (_name, spec) => {
    const clock = new ManualClock(T);
    const snapshots = createMemorySnapshotStore({ keepFull: 2 });
    const publisher = new PolicyPublisher(snapshots, policySnapshotName("p"), 4); // a full every 4th version
    const learner = createPolicy("p", spec); // refreshEvery 5: epochs turn inside and across deltas
    await publisher.publish(() => learner.snapshot(), clock.now());
    const registry = await PolicyRegistry.open({ clock });
    const followers = testFollowers({ snapshots, registry, clock, metrics: new EngineMetrics() });
    await followers.follow("p");
    const rng = new Xoshiro128(11);
    const probes = Array.from({ length: 3 }, (_, i) => request(rng, 4 + i * 3));
    const epochs = new Set<number>();
    let labelled = 1;
    let inPlace = 0;
    let fullsReplayed = 0;
    try {
      // Update counts per version: 0 is a heartbeat; 1-13 cross the refresh points at every offset.
      for (const [v, count] of [3, 0, 7, 1, 13, 5, 2, 0, 9, 4, 6, 11].entries()) {
        const before = registry.find("p");
        for (let k = 0; k < count; k++) {
          const f = feedback(rng);
          learner.update(f);
          publisher.record(f);
        }
        clock.advance(1_000);
        const published = (await publisher.publish(() => learner.snapshot(), clock.now(), true))!;
        await followers.catchUp();
        expect(followers.version("p")).toBe(published);
        const served = registry.find("p")!;
        const kind = (await snapshots.latest(policySnapshotName("p")))!.kind;
        if (count > 0 || kind === "full") labelled = published;
        if (kind === "delta" && served === before) inPlace++;
        if (kind === "full" && served === before) fullsReplayed++; // its carried updates, not its snapshot
        expect(served.version).toBe(labelled); // what rank logs; a heartbeat keeps the last label
        // At a full, the reference is what restoring the published full itself serves (a node joining now).
        const reference = kind === "full" ? await joined(snapshots, clock) : restoredCopy(learner, labelled);
        expect(reference.version).toBe(labelled);
        const epoch = (reference.describe().params as { epoch?: number }).epoch;
        if (epoch !== undefined) epochs.add(epoch);
        for (const [p, input] of probes.entries()) {
          for (let seed = 0; seed < 4; seed++) {
            const key = `dec-${v}-${p}-${seed}`;
            const got = served.rank(input, 3, rngFor("explore", key));
            expect(got).toEqual(reference.rank(input, 3, rngFor("explore", key)));
          }
        }
      }
    } finally {
      followers.close();
    }
    expect(inPlace).toBeGreaterThan(4); // deltas changed the served object, no copy per version
    expect(fullsReplayed).toBe(3); // versions 5, 9 and 13: every full after the first continued the served mirror
    // Thompson's serving epochs moved on between the versions compared (LinUCB serves its learner: none).
    if (spec.type === "thompson") expect(epochs.size).toBeGreaterThan(5);
    else expect(epochs.size).toBe(0);
  });

  it("says policy_stale at once when a delta cannot be replayed on the served mirror", async () => {
    const clock = new ManualClock(T);
    const snapshots = createMemorySnapshotStore();
    const publisher = new PolicyPublisher(snapshots, policySnapshotName("p"), 10);
    const learner = createPolicy("p", TEST_POLICY_SPEC);
    await publisher.publish(() => learner.snapshot(), clock.now());
    const registry = await PolicyRegistry.open({ clock });
    const followers = testFollowers({ snapshots, registry, clock, metrics: new EngineMetrics() });
    try {
      await followers.follow("p");
      expect(registry.isStale("p")).toBe(false);
      const rng = new Xoshiro128(3);
      const good = feedback(rng);
      publisher.record(good);
      // An update this node's code refuses (a learner would never have recorded it: version skew between them).
      publisher.record({ ...feedback(rng), index: 99 });
      await publisher.publish(() => learner.snapshot(), clock.now());
      await expect(followers.catchUp()).rejects.toThrow(/feedback index 99/);
      expect(followers.version("p")).toBe(1);
      expect(registry.isStale("p")).toBe(true); // part of version 2 is served: rank flags it without waiting
    } finally {
      followers.close();
    }
  });
});
