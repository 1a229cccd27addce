import { describe, expect, it } from "vitest";
import type { PolicySpec } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import { Xoshiro128 } from "../core/rng.js";
import { encodeCheckpointOffThread, encodePolicyVersionOffThread } from "./full-encoder.js";
import { JoinColumnsWriter } from "./join-columns.js";
import { decodeCheckpoint, encodeCheckpoint } from "./learner-checkpoint.js";
import { decodePolicyVersion, encodePolicyVersion, policyFingerprint } from "./learner-snapshots.js";
import { snapshotInSlices } from "./sliced-policy-snapshot.js";

/** Per-item arms of 32 hashed slots (~4.5 KB each): 400 arms are past the 1 MiB that goes to the thread. */
const SPEC: PolicySpec = {
  type: "thompson",
  params: { model: "hybrid", armDims: 32, maxArms: 1000, poolSize: 8, refreshEvery: 7 },
  features: { dims: 1024, interactions: true },
};

async function learned() {
  const policy = createPolicy("p", SPEC);
  const rng = new Xoshiro128(3);
  for (let t = 0; t < 1200; t++) {
    const item = t % 400;
    const input = {
      context: { device: rng.next() < 0.5 ? "mobile" : "desktop" },
      candidates: [{ id: `item${item}`, features: { price: item % 30 } }],
    };
    policy.update({ input, index: 0, position: 0, reward: rng.next(), propensity: 0.5, placedBefore: [] });
  }
  return snapshotInSlices(policy); // as the learner takes it: the arms in one shared pool
}

describe("a full encoded on the encoder's thread", () => {
  // Not byte for byte: V8 writes an integer-valued number as it holds it (small integer or double), which a
  // structured clone may change; the content is what must be equal (learner-snapshots.ts `policyFingerprint`).
  it("decodes to what was encoded, as one encoded here does, and leaves the snapshot readable here", async () => {
    const snapshot = await learned();
    const before = policyFingerprint(snapshot);
    const version = { kind: "full" as const, publishedAt: 5, policy: snapshot };
    const onThread = await encodePolicyVersionOffThread(version);
    expect(onThread.byteLength).toBeGreaterThan(2 ** 20);
    const decoded = decodePolicyVersion(onThread);
    const here = decodePolicyVersion(encodePolicyVersion(version));
    expect(decoded.kind === "full" && policyFingerprint(decoded.policy)).toBe(before);
    expect(here.kind === "full" && policyFingerprint(here.policy)).toBe(before);
    expect(decoded.publishedAt).toBe(5);

    const checkpoint = {
      policy: snapshot,
      join: { columns: new JoinColumnsWriter().done(), watermark: 7, closedThrough: 3 },
      positions: { "0": "1-0" } as never,
      applied: 12,
      generation: 2,
    };
    const checkpointBytes = await encodeCheckpointOffThread(checkpoint);
    const restored = decodeCheckpoint(checkpointBytes);
    expect(policyFingerprint(restored.policy)).toBe(before);
    expect(restored).toMatchObject({ positions: { "0": "1-0" }, applied: 12, generation: 2 });
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).toMatchObject({ applied: 12, generation: 2 });
    expect(policyFingerprint(snapshot)).toBe(before); // shared, not moved: the publish and the save read it next
  });
});
