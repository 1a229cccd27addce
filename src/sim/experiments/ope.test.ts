import { describe, expect, it } from "vitest";
import { MemoryDecisionStore } from "../../storage/memory/decision-store-memory.js";
import { opeExperiment, storeOpeLogs } from "./ope.js";

describe("OPE experiment", () => {
  const exp = opeExperiment({ rounds: 3000 });

  it("logs decisions in the decision log's format with exact propensities", () => {
    expect(exp.logs).toHaveLength(3000);
    for (const { decision } of exp.logs.slice(0, 50)) {
      const slot = decision.slots[0]!;
      const sum = Array.from(slot.probabilities).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 9);
      expect(slot.probabilities[slot.index]).toBe(slot.propensity);
      expect(decision.candidates[slot.index]!.id).toBe(slot.itemId);
    }
  });

  it("orders the true values as the world implies", () => {
    const t = exp.truth;
    expect(t.oracle!).toBeGreaterThan(t["softmax-0.5"]!);
    expect(t.oracle!).toBeGreaterThan(t.popularity!);
    expect(t.popularity!).toBeGreaterThan(t.uniform!);
  });

  it("the log's mean reward matches the logging policy's true value (4 standard errors)", () => {
    const se = Math.sqrt((exp.loggingTruth * (1 - exp.loggingTruth)) / exp.slotRounds);
    expect(Math.abs(exp.onPolicy - exp.loggingTruth)).toBeLessThan(4 * se);
  });

  it("IPS computed from the logs lands within 4 standard errors of every target's truth", () => {
    for (const [name, policy] of Object.entries(exp.targets)) {
      const terms = exp.logs.map(({ decision, rewards }) => {
        const slot = decision.slots[0]!;
        const input = { context: decision.context, candidates: decision.candidates };
        const reward = rewards.some((r) => r.itemId === slot.itemId) ? 1 : 0;
        return (reward * policy.distribution(input)[slot.index]!) / slot.propensity;
      });
      const mean = terms.reduce((a, b) => a + b, 0) / terms.length;
      const sd = Math.sqrt(terms.reduce((a, b) => a + (b - mean) ** 2, 0) / (terms.length - 1));
      expect(Math.abs(mean - exp.truth[name]!), name).toBeLessThan(4 * (sd / Math.sqrt(terms.length)) + 1e-9);
    }
  });

  it("with slates, per-slot IPS with conditional propensities matches the per-slot truth", () => {
    const slates = opeExperiment({ rounds: 800, slots: 3 });
    const policy = slates.targets["softmax-0.5"]!;
    const terms: number[] = [];
    for (const { decision, rewards } of slates.logs) {
      decision.slots.forEach((slot, k) => {
        const input = { context: decision.context, candidates: decision.candidates };
        const placed = decision.slots.slice(0, k).map((s) => s.index);
        const reward = rewards.some((r) => r.itemId === slot.itemId) ? 1 : 0;
        terms.push((reward * policy.distribution(input, placed)[slot.index]!) / slot.propensity);
      });
    }
    const mean = terms.reduce((a, b) => a + b, 0) / terms.length;
    const sd = Math.sqrt(terms.reduce((a, b) => a + (b - mean) ** 2, 0) / (terms.length - 1));
    expect(slates.slotRounds).toBe(2400);
    expect(Math.abs(mean - slates.truth["softmax-0.5"]!)).toBeLessThan(4 * (sd / Math.sqrt(terms.length)));
  });

  it("is repeatable and can be written to a decision store", async () => {
    const again = opeExperiment({ rounds: 200 });
    const first = opeExperiment({ rounds: 200 });
    expect(again.truth).toEqual(first.truth);
    const store = new MemoryDecisionStore();
    await storeOpeLogs(store, first.logs);
    expect(await store.count()).toBe(200);
    const clicked = first.logs.find((l) => l.rewards.length > 0)!;
    expect((await store.get(clicked.decision.decisionId))?.rewards).toHaveLength(clicked.rewards.length);
  });
});
