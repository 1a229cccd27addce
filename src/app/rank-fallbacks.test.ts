import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "./engine.js";
import { createTestEngine } from "./test-engine.js";

let engine: Engine;
afterEach(async () => engine?.close());
const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];

describe("rank never fails the caller when a fallback can serve, and says so", () => {
  it("serves seeded uniform when the policy throws, logging exact propensities", async () => {
    engine = await createTestEngine();
    const policy = engine.parts.policies.find("default");
    if (!policy) throw new Error("no default policy");
    policy.rank = () => {
      throw new Error("boom");
    };
    const res = await engine.rank({ userId: "u", candidates, slots: 2 });
    expect(res.fallbacks).toEqual(["policy_error:default"]);
    expect(res.policy).toMatchObject({ id: "fallback-uniform", type: "uniform" });
    expect(res.ranking.map((r) => r.probability)).toEqual([1 / 3, 1 / 2]);
    const logged = await engine.decisions.get(res.decisionId);
    expect(logged?.decision.fallbacks).toEqual(["policy_error:default"]);
  });

  it("keeps the registry's default when the configured one is not registered, but refuses an unknown explicit policy", async () => {
    // config rank.defaultPolicy only seeds a fresh install's default, and only with a registered policy.
    engine = await createTestEngine({ config: { rank: { defaultPolicy: "gone" } } });
    const res = await engine.rank({ userId: "u", candidates });
    expect(res.policy.id).toBe("default");
    expect(res.fallbacks).toEqual([]);
    await expect(engine.rank({ userId: "u", candidates, policyId: "nope" })).rejects.toMatchObject({
      code: "POLICY_NOT_FOUND",
    });
  });
});
