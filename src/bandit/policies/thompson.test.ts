import { describe, expect, it } from "vitest";
import { rngFor } from "../../core/rng.js";
import type { PolicyInput } from "../policy.js";
import { createPolicy } from "../policy-types.js";
import type { ThompsonPolicy } from "./thompson.js";

const input = (device: string): PolicyInput => ({
  context: { device },
  candidates: [{ id: "a" }, { id: "b" }, { id: "c" }],
});

function reward(policy: ReturnType<typeof createPolicy>, inp: PolicyInput, index: number, r: number) {
  policy.update({ input: inp, index, position: 0, reward: r, propensity: 0.3, placedBefore: [] });
}

describe("Thompson pools", () => {
  it("keep a context's distribution fixed within an epoch and move it at the refresh", () => {
    const policy = createPolicy("ts", { type: "thompson", params: { model: "disjoint", refreshEvery: 5, armDims: 8 } });
    const x = input("m");
    const before = Array.from(policy.distribution(x));
    for (let t = 0; t < 4; t++) reward(policy, x, 2, 1);
    expect(Array.from(policy.distribution(x))).toEqual(before);
    reward(policy, x, 2, 1);
    const after = policy.distribution(x);
    expect(Array.from(after)).not.toEqual(before);
    expect(after[2]).toBeGreaterThan(before[2]!);
  });

  it("learns which candidate pays and concentrates on it, keeping the floor", () => {
    const policy = createPolicy("ts", { type: "thompson", params: { refreshEvery: 1, floor: 0.03 } });
    const x = input("m");
    for (let t = 0; t < 200; t++) {
      const [s] = policy.rank(x, 1, rngFor("explore", `t${t}`));
      reward(policy, x, s!.index, s!.index === 1 ? 1 : 0);
    }
    const p = policy.distribution(x);
    expect(p[1]).toBeGreaterThan(0.9);
    expect(Math.min(...p)).toBeGreaterThanOrEqual(0.01);
  });
});

describe("Thompson noise per item, not per context", () => {
  const withFeatures = (device: string, discounts: number[], scores?: number[]): PolicyInput => ({
    context: { device },
    candidates: discounts.map((discount, i) => ({
      id: `item${i}`,
      features: { discount },
      ...(scores ? { score: scores[i]! } : {}),
    })),
  });

  it("draws from the request's own candidate features (same context and ids, other features)", () => {
    const policy = createPolicy("ts", { type: "thompson", params: { refreshEvery: 1 } });
    // Learn that a high discount pays.
    for (let t = 0; t < 300; t++) {
      const x = withFeatures("m", [t % 2 === 0 ? 10 : 0, t % 2 === 0 ? 0 : 10, 5]);
      reward(policy, x, 0, t % 2 === 0 ? 1 : 0);
      reward(policy, x, 1, t % 2 === 0 ? 0 : 1);
    }
    const first = policy.distribution(withFeatures("m", [10, 0, 0]));
    const second = policy.distribution(withFeatures("m", [0, 10, 0]));
    expect(first[0]).toBeGreaterThan(0.6);
    expect(second[1]).toBeGreaterThan(0.6);
    expect(second[0]).toBeLessThan(0.2);
  });

  it("gives fresh contexts and fresh scores a pool without drawing new noise, and replays exactly", () => {
    const policy = createPolicy("ts", { type: "thompson" }) as ThompsonPolicy;
    const discounts = Array.from({ length: 20 }, (_, i) => i);
    for (let u = 0; u < 50; u++) {
      const x = withFeatures(
        `device-${u}`,
        discounts,
        discounts.map((d) => d * 0.01 + u * 0.001),
      );
      policy.rank(x, 5, rngFor("explore", `u${u}`));
    }
    // One row per item for the epoch, whatever the number of contexts.
    expect(policy.noise.rowsDrawn).toBe(20);
    const x = withFeatures(
      "device-7",
      discounts,
      discounts.map((d) => d * 0.5),
    );
    expect(Array.from(policy.distribution(x, [3]))).toEqual(Array.from(policy.distribution(x, [3])));
    const sum = policy.distribution(x).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 12);
  });
});

describe("Beta-Bernoulli per context bucket", () => {
  it("learns separately per bucket and shares nothing across buckets", () => {
    const policy = createPolicy("bb", { type: "beta-bernoulli", params: { bucketBy: ["device"], refreshEvery: 1 } });
    const mobile = input("mobile");
    const desktop = input("desktop");
    for (let t = 0; t < 60; t++) {
      reward(policy, mobile, 0, 1);
      reward(policy, mobile, 1, 0);
      reward(policy, mobile, 2, 0);
      reward(policy, desktop, 2, 1);
      reward(policy, desktop, 0, 0);
      reward(policy, desktop, 1, 0);
    }
    const pm = policy.distribution(mobile);
    const pd = policy.distribution(desktop);
    expect(pm[0]).toBeGreaterThan(0.9);
    expect(pd[2]).toBeGreaterThan(0.9);
    const fresh = policy.distribution(input("tablet"));
    for (const v of fresh) expect(v).toBeGreaterThan(0.15);
  });
});
