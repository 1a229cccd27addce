import { describe, expect, it } from "vitest";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import { ARMS_PER_TURN } from "../bandit/policy-registry.js";
import { createPolicy, restorePolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { readCheckpointedPolicy } from "./learner-checkpoint.js";
import { createLearnerDuty } from "./learner-duty.js";
import { learnerContext, learnerStream, TEST_POLICY_SPEC } from "./learner-fixtures.js";
import { decodePolicyVersion, policyFingerprint, policySnapshotName } from "./learner-snapshots.js";

const T = Date.UTC(2026, 2, 2, 10);
const WINDOW = 60_000;
const END = T + 200 * 1_000 + 10 * WINDOW;

/** Exact content (every double's bits) of the policy a snapshot restores to. */
const exact = (snapshot: PolicySnapshot) => policyFingerprint(restorePolicy(snapshot).snapshot());

interface ArmsState {
  model: { disjoint: { arms: [string, unknown][] } };
}

describe("learner duty: the policy copied in slices", () => {
  it("a reward applied while a full checkpoint copies the policy is in none of the checkpoint, its publish and its save", async () => {
    const clock = new ManualClock(T);
    const adapters = {
      stream: createMemoryDecisionStream({ partitions: 2 }),
      leases: createMemoryLeaseStore(clock),
      snapshots: createMemorySnapshotStore(),
    };
    const policies = new MemoryPolicyStore();
    await policies.save(createPolicy("p", TEST_POLICY_SPEC).snapshot(), T);
    const ctx = learnerContext({ adapters, policies, clock, workerId: "w", windowMs: WINDOW });
    // Every checkpoint a full one, published whole and saved to the store.
    const options = { fullCheckpointEvery: 1, fullEvery: 1, persistEvery: 1, checkpointMs: 3_600_000 };
    const duty = createLearnerDuty(ctx, "p", options);
    await duty.start((await adapters.leases.acquire(duty.name, "w", 60_000))!);
    await adapters.stream.append(learnerStream({ policyId: "p", decisions: 200, windowMs: WINDOW, start: T }));
    for (let before = -1; duty.status()!.applied !== before; ) {
      before = duty.status()!.applied;
      await duty.step(END); // applies everything and closes every window: the policy learned
    }
    const policy = duty.policy!;
    const asOfCheckpoint = exact(policy.snapshot());
    const arms = (policy.snapshot().state as ArmsState).model.disjoint.arms;
    expect(arms.length).toBeGreaterThan(2 * ARMS_PER_TURN); // the copy takes several turns
    const [lastArm] = arms.at(-1)!; // copied in the last slice: still waiting when the reward lands

    const checkpointing = duty.checkpoint(END + 1); // has copied its first slice when this returns
    const input = { context: { device: "mobile", hour: 3 }, candidates: [{ id: lastArm, features: { price: 9 } }] };
    policy.update({ input, index: 0, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
    await checkpointing;

    expect(exact(policy.snapshot())).not.toBe(asOfCheckpoint); // the live policy learned the reward
    const checkpointed = await readCheckpointedPolicy(adapters.leases, duty.name, WINDOW);
    expect(policyFingerprint(checkpointed!.snapshot())).toBe(asOfCheckpoint);
    const versions = await adapters.snapshots.since(policySnapshotName("p"), undefined);
    const published = decodePolicyVersion(versions.at(-1)!.bytes);
    expect(published.kind).toBe("full");
    expect(published.kind === "full" && exact(published.policy)).toBe(asOfCheckpoint);
    expect(exact((await policies.load("p"))!.snapshot)).toBe(asOfCheckpoint);
  });
});
