import { describe, expect, it } from "vitest";
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
});
