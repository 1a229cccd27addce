import { describe, expect, it } from "vitest";
import type { PolicySpec } from "../bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../bandit/policy-types.js";
import { opeExperiment, storeOpeLogs } from "../sim/experiments/ope.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { runEvaluation } from "./evaluate.js";

/**
 * Against the simulator's ground truth (src/sim/experiments/ope.ts): a softmax logger over a simulated
 * shop, real Policy objects as targets, 2-slot slates. The exact per-slot value of each target is known;
 * IPS, SNIPS and DR must land within 4 standard errors of it, read through the decision-log port.
 */
describe("runEvaluation on simulated logs with known per-slot values", () => {
  it("IPS, SNIPS and DR agree with the truth for every target policy", async () => {
    const exp = opeExperiment({ rounds: 3000, seed: 11, slots: 2 });
    const store = new MemoryDecisionStore();
    await storeOpeLogs(store, exp.logs);
    const names = Object.keys(exp.targets);
    const result = await runEvaluation(
      { logs: "loopwise:", targets: names.map((n) => `policy:${n}`), estimators: ["ips", "snips", "dr"] },
      {
        decisions: store,
        joinConfig: { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" },
        clock: { now: () => Date.UTC(2030, 0, 1) },
        resolvePolicy: (spec) => {
          const policy = exp.targets[spec.slice("policy:".length)];
          if (!policy) throw new Error(`unknown ${spec}`);
          return policy;
        },
      },
    );
    expect(result.n).toBe(exp.slotRounds);
    expect(Math.abs(result.onPolicy.value - exp.loggingTruth)).toBeLessThan(4 * result.onPolicy.stderr);
    for (const name of names) {
      const target = result.targets.find((t) => t.target === `policy:${name}`);
      const truth = exp.truth[name] as number;
      for (const e of target?.estimates ?? []) {
        expect(Math.abs((e.value as number) - truth), `${name} ${e.estimator}`).toBeLessThan(4 * (e.stderr as number));
      }
    }
  });

  it("a learning target's estimate (learn:) matches the exact value of its learning trajectory", async () => {
    // The same spec and id on both sides: the experiment's learner and the evaluation's copy see the same
    // outcomes in the same order, so their distributions are equal at every round.
    const specs: Record<string, PolicySpec> = {
      default: DEFAULT_POLICY_SPEC,
      "epsilon-greedy": { type: "epsilon-greedy", params: { epsilon: 0.1 }, features: { id: true } },
    };
    const fresh = (name: string) => createPolicy(`learner-${name}`, specs[name] as PolicySpec);
    const exp = opeExperiment({
      rounds: 3000,
      seed: 7,
      slots: 2,
      learners: () => Object.fromEntries(Object.keys(specs).map((n) => [n, fresh(n)])),
    });
    const store = new MemoryDecisionStore();
    await storeOpeLogs(store, exp.logs);
    const names = Object.keys(specs);
    const result = await runEvaluation(
      { logs: "loopwise:", targets: names.map((n) => `learn:${n}`), estimators: ["ips", "snips", "dr"] },
      {
        decisions: store,
        joinConfig: { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" },
        clock: { now: () => Date.UTC(2030, 0, 1) },
        resolvePolicy: fresh,
      },
    );
    for (const name of names) {
      const target = result.targets.find((t) => t.target === `learn:${name}`);
      const truth = exp.learnerTruth[name] as number;
      // A learner does better than the uniform policy it starts close to (it learned along the log).
      expect(truth).toBeGreaterThan(exp.truth.uniform as number);
      expect(target?.estimates).toHaveLength(3);
      for (const e of target?.estimates ?? []) {
        expect(Math.abs((e.value as number) - truth), `${name} ${e.estimator}`).toBeLessThan(4 * (e.stderr as number));
      }
    }
  });
});
