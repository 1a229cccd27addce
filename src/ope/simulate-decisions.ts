import { Xoshiro128 } from "../core/rng.js";
import type { DecisionRecord, RewardRecord } from "../decisions/decision-record.js";

/**
 * A small synthetic decision log with known behaviour, for tests, the benchmark and the e2e report:
 * K candidates, `slots` slots filled uniformly at random without replacement (exact conditional
 * propensities 1/(K − k)), one of two user segments, and a click on slot k with probability
 * `CTR(segment, item)` — item 0 is best for segment "a", item K−1 for "b".
 */
export interface SimulatedLogOptions {
  decisions: number;
  candidates?: number;
  slots?: number;
  seed?: number;
  start?: number;
  /** Milliseconds between decisions. */
  spacing?: number;
}

export interface SimulatedLog {
  decisions: DecisionRecord[];
  rewards: RewardRecord[];
}

export function clickProbability(segment: string, item: number, k: number): number {
  const best = segment === "a" ? 0 : k - 1;
  return item === best ? 0.3 : 0.05;
}

export function simulateDecisions(options: SimulatedLogOptions): SimulatedLog {
  const k = options.candidates ?? 5;
  const slots = Math.min(options.slots ?? 1, k);
  const rng = new Xoshiro128(options.seed ?? 1);
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const spacing = options.spacing ?? 1000;
  const decisions: DecisionRecord[] = [];
  const rewards: RewardRecord[] = [];
  for (let d = 0; d < options.decisions; d++) {
    const segment = rng.next() < 0.5 ? "a" : "b";
    const timestamp = start + d * spacing;
    const decisionId = `sim_${d}`;
    const candidates = Array.from({ length: k }, (_, j) => ({ id: `item${j}`, features: { price: 10 + j } }));
    const free = Array.from({ length: k }, (_, j) => j);
    const chosen: DecisionRecord["slots"] = [];
    for (let s = 0; s < slots; s++) {
      const pick = Math.floor(rng.next() * free.length);
      const index = free[pick] as number;
      const probabilities = Array.from({ length: k }, (_, j) => (free.includes(j) ? 1 / free.length : 0));
      chosen.push({ position: s, itemId: `item${index}`, index, propensity: 1 / free.length, probabilities });
      free.splice(pick, 1);
      if (rng.next() < clickProbability(segment, index, k)) {
        rewards.push({
          rewardId: `r_${d}_${s}`,
          decisionId,
          value: 1,
          itemId: `item${index}`,
          type: "click",
          timestamp: timestamp + 10,
          source: "event",
        });
      }
    }
    decisions.push({
      decisionId,
      timestamp,
      userId: `u${d % 97}`,
      context: { segment },
      features: { views_1h: d % 7 },
      candidates,
      slots: chosen,
      policy: { id: "default", type: "uniform", version: 1 },
      baselineItemId: "item0",
      activated: true,
      candidateSource: "request",
      fallbacks: [],
    });
  }
  return { decisions, rewards };
}
