import { z } from "zod";
import { BasePolicy } from "../base-policy.js";
import { uniform } from "../distributions.js";
import { parseParams } from "../params.js";
import type { PolicyInput, PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith } from "../policy-type.js";

/** Uniform over the candidates not yet placed (per slot): the maximal-support logging policy. */
export class UniformPolicy extends BasePolicy<number> {
  protected prepare(input: PolicyInput): number {
    return input.candidates.length;
  }
  protected slotDistribution(_n: number, mask: Uint8Array): Float64Array {
    return uniform(mask);
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

export const uniformType: PolicyType = {
  description: "uniform over the not-yet-placed candidates",
  explores: true,
  create(id: string, spec: PolicySpec, version: number) {
    parseParams(schema, spec);
    return new UniformPolicy(id, "uniform", version, spec);
  },
  restore(snapshot) {
    return restoreWith(uniformType, snapshot);
  },
};
