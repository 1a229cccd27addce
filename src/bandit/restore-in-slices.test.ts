import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BasePolicy } from "./base-policy.js";
import type { PolicyInput, PolicySpec } from "./policy.js";
import { createPolicy, restorePolicy, restorePolicyInSlices } from "./policy-types.js";
import { snapshotJson } from "./snapshot-codec.js";

/** The default's model (hybrid, evicting past maxArms) small enough for a test, and other types' restores. */
const SPECS: Record<string, PolicySpec> = {
  hybrid: {
    type: "thompson",
    params: { model: "hybrid", armDims: 8, armFeatures: "context", maxArms: 40, poolSize: 8, refreshEvery: 3 },
    features: { interactions: true, id: false, numeric: "symlog", profile: "none", dims: 4096 },
  },
  linucb: { type: "linucb", params: { model: "disjoint", armDims: 8, maxArms: 30 } },
  shared: { type: "thompson", params: { model: "shared" }, features: { dims: 4096 } },
  "beta-bernoulli": { type: "beta-bernoulli" },
  uniform: { type: "uniform" },
};

function inputFor(item: number, t: number): PolicyInput {
  return {
    context: { device: t % 2 ? "mobile" : "desktop", hour: t % 24 },
    candidates: [
      { id: `item-${item}`, features: { price: (item * 7 + t) % 50 } },
      { id: `item-${item + 1}`, features: { price: (item * 3 + t) % 50 } },
    ],
  };
}

/** Learned on 50 items (past maxArms: evictions), serving synced every 3 updates (some arms' copies differ). */
function trained(spec: PolicySpec): BasePolicy {
  const policy = createPolicy("p", spec);
  for (let t = 0; t < 160; t++) {
    const input = inputFor(t % 50, t);
    policy.update({
      input,
      index: t % 2,
      position: 0,
      reward: (t * 7) % 3 === 0 ? 1 : 0,
      propensity: 0.5,
      placedBefore: [],
    });
  }
  return policy;
}

/** Every array by its bytes (base64), every other number as JSON writes it (exact for the finite doubles here). */
const fingerprint = (p: BasePolicy) => snapshotJson(p.snapshot());

describe("restorePolicyInSlices", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: gives the policy restorePolicy gives, bit for bit, and ranks alike`, () => {
      const source = trained(spec);
      const snapshot = source.snapshot();
      const whole = restorePolicy(snapshot);
      const restore = restorePolicyInSlices(snapshot);
      let steps = 1;
      while (!restore.step(3)) steps++;
      const sliced = restore.result();
      if (name === "hybrid" || name === "linucb") expect(steps).toBeGreaterThan(5); // arms came in several steps
      expect(fingerprint(sliced)).toBe(fingerprint(whole));
      expect(fingerprint(sliced)).toBe(fingerprint(source));
      expect(sliced.describe()).toEqual(whole.describe());
      for (let t = 0; t < 20; t++) {
        const input = inputFor((t * 13) % 60, 1000 + t);
        expect(sliced.distribution(input)).toEqual(whole.distribution(input));
        expect(sliced.distribution(input, [0])).toEqual(whole.distribution(input, [0]));
      }
    });
  }

  it("result() without steps restores all at once; the source is not changed", () => {
    const source = trained(SPECS.hybrid!);
    const before = fingerprint(source);
    const restored = restorePolicyInSlices(source.snapshot()).result();
    expect(fingerprint(restored)).toBe(before);
    expect(fingerprint(source)).toBe(before);
  });

  it("rejects what is not a snapshot, before any step", () => {
    expect(() => restorePolicyInSlices({ nope: 1 })).toThrow(/not a policy snapshot/);
  });
  it("law: for random learning histories and random step sizes, the sliced restore is the restore", () => {
    const spec = SPECS.hybrid!;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(60), fc.nat(1000), fc.boolean()), { minLength: 1, maxLength: 80 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 40 }),
        (history, steps) => {
          const source = createPolicy("p", spec);
          for (const [item, t, clicked] of history)
            source.update({
              input: inputFor(item, t),
              index: t % 2,
              position: 0,
              reward: clicked ? 1 : 0,
              propensity: 0.5,
              placedBefore: [],
            });
          const snapshot = source.snapshot();
          const whole = restorePolicy(snapshot);
          const restore = restorePolicyInSlices(snapshot);
          // Step sizes from the list, round and round, until the restore says it is done.
          for (let s = 0; !restore.step(steps[s % steps.length]!); s++);
          const sliced = restore.result();
          expect(fingerprint(sliced)).toBe(fingerprint(whole));
          for (let t = 0; t < 4; t++) {
            const input = inputFor((t * 17) % 70, 5000 + t);
            expect(sliced.distribution(input)).toEqual(whole.distribution(input));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
