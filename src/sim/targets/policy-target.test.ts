import { describe, expect, it } from "vitest";
import type { Policy, PolicyFeedback, PolicyInput, SlotChoice } from "../../bandit/policy.js";
import { ManualClock } from "../../core/clock.js";
import { createPolicyTarget } from "./policy-target.js";

/** Ranks candidates in order with propensity 1 and records every update. */
function spyPolicy(): Policy & { updates: PolicyFeedback[] } {
  const updates: PolicyFeedback[] = [];
  return {
    id: "spy",
    type: "spy",
    version: 1,
    updates,
    distribution: (input: PolicyInput) => new Float64Array(input.candidates.length).fill(1 / input.candidates.length),
    rank: (_input: PolicyInput, slots: number): SlotChoice[] =>
      Array.from({ length: slots }, (_, k) => ({
        position: k,
        index: k,
        propensity: 1,
        probabilities: new Float64Array(),
      })),
    update: (f: PolicyFeedback) => void updates.push(f),
    describe: () => ({}),
    snapshot: () => ({}),
  };
}

describe("policy target", () => {
  it("learns a click at once (reward 1) and every other slot with 0 when the window closes", async () => {
    const clock = new ManualClock(0);
    const policy = spyPolicy();
    const target = createPolicyTarget(policy, clock, 1000);
    const candidates = ["a", "b", "c", "d"].map((id) => ({ id }));
    const r = await target.rank({ userId: "u", candidates, slots: 3, decisionId: "d1" });
    expect(r.ranking.map((x) => x.id)).toEqual(["a", "b", "c"]);
    await target.ingestEvents({ events: [{ type: "click", userId: "u", itemId: "b", decisionId: "d1" }] });
    await target.ingestEvents({ events: [{ type: "click", userId: "u", itemId: "b", decisionId: "d1" }] });
    expect(policy.updates.map((u) => [u.position, u.reward, u.placedBefore])).toEqual([[1, 1, [0]]]);
    clock.set(999);
    await target.tick?.();
    expect(policy.updates).toHaveLength(1);
    clock.set(1000);
    await target.tick?.();
    expect(policy.updates.map((u) => [u.position, u.reward])).toEqual([
      [1, 1],
      [0, 0],
      [2, 0],
    ]);
  });
});
