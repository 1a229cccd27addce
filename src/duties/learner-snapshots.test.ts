import { describe, expect, it } from "vitest";
import { createPolicy } from "../bandit/policy-types.js";
import { Xoshiro128 } from "../core/rng.js";
import { serializeWithHeader } from "./learner-checkpoint.js";
import { TEST_POLICY_SPEC } from "./learner-fixtures.js";
import {
  decodePolicyVersion,
  decodePolicyVersionHead,
  encodePolicyVersion,
  type PolicyVersion,
  policyFingerprint,
} from "./learner-snapshots.js";

function learned(n: number) {
  const rng = new Xoshiro128(n);
  const policy = createPolicy("p", TEST_POLICY_SPEC);
  const updates = Array.from({ length: n }, (_, i) => {
    const candidates = [0, 1, 2].map((j) => ({ id: `item${(i + j) % 7}`, features: { price: i + j } }));
    return {
      input: { context: {}, candidates },
      index: i % 3,
      position: 0,
      reward: rng.next(),
      propensity: 1 / 3,
      placedBefore: [],
    };
  });
  for (const f of updates) policy.update(f);
  return { snapshot: policy.snapshot(), updates };
}

describe("policy version format", () => {
  it("round-trips fulls (with and without the updates they continue) and deltas; the head leaves the snapshot out", () => {
    const { snapshot, updates } = learned(9);
    const continues = { follows: 4, updates: updates.slice(5), progress: snapshot.progress };
    const versions: PolicyVersion[] = [
      { kind: "full", publishedAt: 7, policy: snapshot, continues },
      { kind: "full", publishedAt: 8, policy: snapshot },
      { kind: "delta", publishedAt: 9, updates },
      { kind: "delta", publishedAt: 10, updates: [] },
    ];
    for (const version of versions) {
      const bytes = encodePolicyVersion(version);
      expect(bytes[3]).toBe(2); // format 2
      const decoded = decodePolicyVersion(bytes);
      const { policy, ...head } = decoded.kind === "full" ? decoded : { ...decoded, policy: undefined };
      const { policy: sent, ...sentHead } = version.kind === "full" ? version : { ...version, policy: undefined };
      expect(head).toEqual(sentHead);
      if (sent) expect(policyFingerprint(policy!)).toBe(policyFingerprint(sent));
      expect(decodePolicyVersionHead(bytes)).toEqual(sentHead);
    }
  });

  it("reads format 1 (the whole version in one value, no head apart from it)", () => {
    const { snapshot, updates } = learned(4);
    const full = serializeWithHeader([0x4c, 0x57, 0x50], 1, { kind: "full", publishedAt: 3, policy: snapshot });
    const decoded = decodePolicyVersion(full);
    expect(decoded.kind === "full" && policyFingerprint(decoded.policy)).toBe(policyFingerprint(snapshot));
    expect(decodePolicyVersionHead(full)).toBeUndefined();
    const delta = serializeWithHeader([0x4c, 0x57, 0x50], 1, { kind: "delta", publishedAt: 3, updates });
    expect(decodePolicyVersionHead(delta)).toBeUndefined();
    expect(decodePolicyVersion(delta)).toEqual({ kind: "delta", publishedAt: 3, updates });
    expect(() => decodePolicyVersion(Uint8Array.from([0x4c, 0x57, 0x50, 3, 0]))).toThrow(/format 3/);
  });
});
