import { describe, expect, it } from "vitest";
import type { Policy, PolicyFeedback, PolicyInput } from "../bandit/policy.js";
import type { LoggedRound } from "./logged-round.js";
import { learningTarget } from "./targets.js";

/** A policy that records what it was asked and taught, in order. */
function recorder(): { policy: Policy; calls: string[] } {
  const calls: string[] = [];
  const policy: Policy = {
    id: "rec",
    type: "rec",
    version: 1,
    distribution(input: PolicyInput, placed: readonly number[] = []) {
      calls.push(`dist ${String(input.context.d)}/${placed.length}`);
      return new Float64Array(input.candidates.length).fill(1 / input.candidates.length);
    },
    rank: () => [],
    update(f: PolicyFeedback) {
      calls.push(`learn ${String(f.input.context.d)}/${f.position} r=${f.reward}`);
    },
    describe: () => ({}),
    snapshot: () => ({}),
  };
  return { policy, calls };
}

const candidates = [{ id: "a" }, { id: "b" }];
const round = (d: string, position: number, reward: number, decisionId: string | undefined = d): LoggedRound => ({
  ...(decisionId !== undefined ? { decisionId } : {}),
  context: { d },
  candidates,
  position,
  action: position,
  propensity: 0.5,
  placedBefore: position === 0 ? [] : [0],
  reward,
});

describe("learningTarget", () => {
  it("answers every slot of a decision before that decision's outcomes teach it", () => {
    const { policy, calls } = recorder();
    const target = learningTarget("learn:rec", policy);
    const log = [round("d1", 0, 1), round("d1", 1, 0), round("d2", 0, 0), round("d2", 1, 1), round("d3", 0, 0)];
    log.forEach((r, i) => {
      target.distribution(r, i);
    });
    expect(calls).toEqual([
      "dist d1/0",
      "dist d1/1",
      "learn d1/0 r=1",
      "learn d1/1 r=0",
      "dist d2/0",
      "dist d2/1",
      "learn d2/0 r=0",
      "learn d2/1 r=1",
      "dist d3/0",
    ]);
  });

  it("treats each round as its own decision when the source has no decision ids", () => {
    const { policy, calls } = recorder();
    const target = learningTarget("learn:rec", policy);
    [round("x", 0, 1, undefined), round("y", 0, 0, undefined)].forEach((r, i) => {
      target.distribution(r, i);
    });
    expect(calls).toEqual(["dist x/0", "learn x/0 r=1", "dist y/0"]);
  });
});
