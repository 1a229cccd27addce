import { describe, expect, it } from "vitest";
import type { BasePolicy, PolicySnapshot } from "./base-policy.js";
import type { PolicyInput, PolicySpec } from "./policy.js";
import { createPolicy, restorePolicy } from "./policy-types.js";
import { snapshotJson } from "./snapshot-codec.js";

/** The default's model (hybrid: shared diagonal + a full-covariance arm per item), small enough for a test. */
const HYBRID: PolicySpec = {
  type: "thompson",
  params: { model: "hybrid", armDims: 8, armFeatures: "context", maxArms: 40, poolSize: 8, refreshEvery: 3 },
  features: { interactions: true, id: false, numeric: "symlog", profile: "none", dims: 4096 },
};

function inputFor(item: number, t: number): PolicyInput {
  return {
    context: { device: t % 2 ? "mobile" : "desktop", hour: t % 24 },
    candidates: [{ id: `item-${item}`, features: { price: (item * 7 + t) % 50, discount: 0.1 } }],
  };
}

function learn(policy: BasePolicy, item: number, t: number): void {
  const input = inputFor(item, t);
  policy.update({
    input,
    index: 0,
    position: 0,
    reward: (item + t) % 3 === 0 ? 1 : 0,
    propensity: 0.5,
    placedBefore: [],
  });
}

/** A policy that learned on `arms` items, a few times each (serving synced every 3 updates: some arms differ). */
function trained(arms: number, spec: PolicySpec = HYBRID): BasePolicy {
  const policy = createPolicy("sliced", spec);
  for (let t = 0; t < 3 * arms + 1; t++) learn(policy, t % arms, t);
  return policy;
}

const json = (s: PolicySnapshot) => snapshotJson(s);

describe("snapshotInSlices", () => {
  it("gives the state as of its start while the policy learns and syncs between steps", () => {
    const policy = trained(30);
    const atStart = json(policy.snapshot());
    const copy = policy.snapshotInSlices();
    expect(copy.step(4)).toBe(false);
    // Arms already copied, arms still waiting (item-29 is copied last) and a new arm change between steps;
    // 7 updates cross refreshEvery (3): serving syncs move serving copies and dirty flags too.
    for (const item of [1, 20, 29, 35, 20, 2, 29]) learn(policy, item, 100 + item);
    expect(copy.step(10)).toBe(false);
    // New arms past maxArms (40) evict the least recently used, copied or waiting: the copy keeps them.
    for (let item = 40; item < 52; item++) learn(policy, item, 200 + item);
    for (const item of [25, 0, 28]) learn(policy, item, 200 + item);
    while (!copy.step(4)) learn(policy, 27, 300);
    const sliced = json(copy.result());
    expect(sliced).toBe(atStart);
    expect(json(policy.snapshot())).not.toBe(atStart); // the policy did move: the copy kept its start
  });

  it("restores to a policy that ranks as the original did at the start", () => {
    const policy = trained(12);
    const input: PolicyInput = {
      context: { device: "mobile", hour: 3 },
      candidates: Array.from({ length: 12 }, (_, i) => ({ id: `item-${i}`, features: { price: i, discount: 0.2 } })),
    };
    const before = Array.from(policy.distribution(input));
    const copy = policy.snapshotInSlices();
    copy.step(1);
    for (let t = 0; t < 9; t++) learn(policy, t, 500 + t);
    const restored = restorePolicy(copy.result());
    expect(Array.from(restored.distribution(input))).toEqual(before);
    expect(restored.updates).toBe(3 * 12 + 1);
  });

  it("completes a copy in progress when a new one starts, each equal to its own start", () => {
    const policy = trained(10);
    const firstStart = json(policy.snapshot());
    const first = policy.snapshotInSlices();
    first.step(2);
    learn(policy, 9, 900);
    const secondStart = json(policy.snapshot());
    const second = policy.snapshotInSlices();
    learn(policy, 8, 901);
    learn(policy, 9, 902);
    expect(json(second.result())).toBe(secondStart);
    expect(json(first.result())).toBe(firstStart);
    expect(secondStart).not.toBe(firstStart);
  });

  it("equals snapshot() for policies without arms (copied at once)", () => {
    for (const spec of [
      { type: "thompson", params: { model: "shared" }, features: { dims: 1024 } },
      { type: "linucb", params: { model: "disjoint", armDims: 4 }, features: { dims: 64 } },
      { type: "uniform" },
    ] as PolicySpec[]) {
      const policy = trained(5, spec);
      const copy = policy.snapshotInSlices();
      const atStart = json(policy.snapshot());
      learn(policy, 1, 77);
      expect(json(copy.result())).toBe(atStart);
    }
  });
});
