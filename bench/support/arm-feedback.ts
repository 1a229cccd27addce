import type { PolicyFeedback, PolicyInput } from "../../src/bandit/policy.js";
import type { Xoshiro128 } from "../../src/core/rng.js";

/**
 * One reward for the policy-follower benches (follower-swap.ts, follower-join.ts): 10 candidates around catalog
 * item `item` (so updating items 0..n-1 once each grows n arms), a random context, the first shown, clicked 30 %.
 */
export function armFeedback(rng: Xoshiro128, item: number): PolicyFeedback {
  const input: PolicyInput = {
    context: { device: rng.next() < 0.5 ? "mobile" : "desktop", hour: Math.floor(rng.next() * 24) },
    candidates: Array.from({ length: 10 }, (_, j) => ({
      id: `item${(item + j * 7) % 100_000}`,
      features: { price: (item + j) % 50, brand: `b${(item + j) % 9}` },
    })),
  };
  return { input, index: 0, position: 0, reward: rng.next() < 0.3 ? 1 : 0, propensity: 0.1, placedBefore: [] };
}
