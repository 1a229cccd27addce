import { z } from "zod";
import { BasePolicy } from "../base-policy.js";
import { pointMass } from "../distributions.js";
import { parseParams } from "../params.js";
import type { PolicyInput, PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith } from "../policy-type.js";

/**
 * Baseline passthrough: serve the application's own order, slot k = the first candidate not yet placed,
 * with probability 1. The apprentice-style cold start: log what the application would do anyway.
 */
export class BaselinePolicy extends BasePolicy<number> {
  protected prepare(input: PolicyInput): number {
    return input.candidates.length;
  }
  protected slotDistribution(n: number, mask: Uint8Array): Float64Array {
    return pointMass(n, mask.indexOf(0));
  }
  protected learn(): void {}
  protected state(): unknown {
    return {};
  }
  protected parameters(): Record<string, unknown> {
    return {};
  }
}

const schema = z.strictObject({});

export const baselineType: PolicyType = {
  description: "passthrough: always the first not-yet-placed candidate, probability 1",
  explores: false,
  create(id: string, spec: PolicySpec, version: number) {
    parseParams(schema, spec);
    return new BaselinePolicy(id, "baseline", version, spec);
  },
  restore(snapshot) {
    return restoreWith(baselineType, snapshot);
  },
};
