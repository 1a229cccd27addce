import type { Policy, PolicyInput, SlotChoice } from "../bandit/policy.js";
import type { Rng } from "../core/rng.js";
import { sampleIndex } from "../core/rng.js";

/**
 * The last-resort ranker: seeded uniform among candidates not yet placed. Rank serves it when the
 * configured policy is missing or throws, so a caller always gets a decision with exact propensities.
 */
export class UniformFallbackPolicy implements Policy {
  readonly id = "fallback-uniform";
  readonly type = "uniform";
  readonly version = 1;

  distribution(input: PolicyInput, placed: readonly number[] = []): Float64Array {
    const n = input.candidates.length;
    const out = new Float64Array(n);
    const open = n - new Set(placed).size;
    for (let i = 0; i < n; i++) out[i] = placed.includes(i) ? 0 : 1 / open;
    return out;
  }

  rank(input: PolicyInput, slots: number, rng: Rng): SlotChoice[] {
    const placed: number[] = [];
    const choices: SlotChoice[] = [];
    for (let position = 0; position < slots && placed.length < input.candidates.length; position++) {
      const probabilities = this.distribution(input, placed);
      const index = sampleIndex(probabilities, rng);
      choices.push({ position, index, propensity: probabilities[index] as number, probabilities });
      placed.push(index);
    }
    return choices;
  }

  update(): void {}

  describe(): Record<string, unknown> {
    return { type: this.type, note: "fallback used when the configured policy cannot serve" };
  }

  snapshot(): unknown {
    return {};
  }
}
