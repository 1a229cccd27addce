import { Xoshiro128 } from "../core/rng.js";
import type { DecisionRecord } from "./decision-record.js";

/** A complete decision record for tests: two candidates, one slot, uniform propensities. */
export function makeDecision(overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: "dec_1",
    timestamp: 1_000_000,
    userId: "u1",
    sessionId: "s1",
    context: { device: "mobile" },
    features: { session_events: 3 },
    candidates: [{ id: "a", features: { price: 10 } }, { id: "b" }],
    slots: [{ position: 0, itemId: "a", index: 0, propensity: 0.5, probabilities: [0.5, 0.5] }],
    policy: { id: "default", type: "uniform", version: 1 },
    baselineItemId: "a",
    activated: true,
    candidateSource: "request",
    fallbacks: [],
    ...overrides,
  };
}

/** A decision as rank logs it under load: 100 candidates with 2 features, 10 slots of full distributions. */
export function realisticDecision(i: number, rng = new Xoshiro128(i + 1)): DecisionRecord {
  const k = 100;
  const candidates = Array.from({ length: k }, (_, j) => ({
    id: `sku-${(i * 7 + j) % 5000}`,
    features: { price: Math.round(rng.next() * 10_000) / 100, category: `cat-${j % 12}` },
  }));
  const placed = new Set<number>();
  const slots = Array.from({ length: 10 }, (_, position) => {
    const weights = candidates.map((_, j) => (placed.has(j) ? 0 : rng.next()));
    const sum = weights.reduce((a, b) => a + b, 0);
    const probabilities = weights.map((w) => w / sum);
    let index = 0;
    while (placed.has(index)) index++;
    placed.add(index);
    const id = (candidates[index] as { id: string }).id;
    return { position, itemId: id, index, propensity: probabilities[index] as number, probabilities };
  });
  return makeDecision({
    decisionId: `dec-${i}`,
    timestamp: 1_700_000_000_000 + i,
    userId: `user-${i % 1000}`,
    context: { device: "mobile", hour: 13 },
    features: { session_events: 4, ctr_1h: 0.125, last_category: "cat-3" },
    candidates,
    slots,
    policy: { id: "default", type: "thompson", version: 12 },
    baselineItemId: candidates[0]?.id ?? null,
  });
}
