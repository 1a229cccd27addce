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
