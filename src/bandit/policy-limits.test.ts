import { describe, expect, it } from "vitest";
import { SPEC_LIMITS } from "./params.js";
import type { PolicySpec } from "./policy.js";
import { createPolicy } from "./policy-types.js";

/** Issue 14, defect 6: a policy spec is user input, and its sizes are memory: documented maxima. */
const refused = (spec: PolicySpec) => {
  try {
    createPolicy("p", spec);
  } catch (error) {
    return (error as { code?: string; errors?: { path: string }[] }).errors?.map((e) => e.path) ?? ["?"];
  }
  return [];
};

describe("policy spec maxima", () => {
  it("refuses hashed dims, arm dims, arms and pools beyond the maxima, naming the field", () => {
    expect(refused({ type: "thompson", features: { dims: 1 << 26 } })).toEqual(["features.dims"]);
    expect(refused({ type: "thompson", params: { model: "disjoint", armDims: 1024 } })).toEqual(["params.armDims"]);
    expect(refused({ type: "linucb", params: { model: "disjoint", maxArms: 1_000_000 } })).toEqual(["params.maxArms"]);
    // Within each maximum but not together: 256² doubles for each of 100,000 arms is 52 GB.
    expect(refused({ type: "thompson", params: { model: "disjoint", armDims: 256, maxArms: 100_000 } })).toEqual([
      "params.maxArms",
    ]);
    expect(refused({ type: "thompson", params: { poolSize: 100_000 } })).toContain("params.poolSize");
    expect(refused({ type: "beta-bernoulli", params: { poolSize: 4096, cacheSize: 65_536 } })).toEqual([
      "params.cacheSize",
    ]);
  });

  it("accepts the maxima themselves", () => {
    expect(refused({ type: "thompson", features: { dims: SPEC_LIMITS.dims } })).toEqual([]);
    expect(refused({ type: "thompson", params: { model: "disjoint", armDims: 256, maxArms: 4096 } })).toEqual([]);
    expect(refused({ type: "beta-bernoulli", params: { poolSize: SPEC_LIMITS.poolSize } })).toEqual([]);
  });
});
