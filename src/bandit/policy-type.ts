import type { BasePolicy, PolicySnapshot } from "./base-policy.js";
import type { PolicySpec } from "./policy.js";

/** One entry of the `policyTypes` registry: how to build a policy from a spec and from a snapshot. */
export interface PolicyType {
  description: string;
  /** True when, with default parameters, every unplaced candidate gets probability > 0. */
  explores: boolean;
  /** Validates `spec` (throws VALIDATION_FAILED) and builds a fresh policy. */
  create(id: string, spec: PolicySpec, version: number): BasePolicy;
  /** Rebuilds a policy equal to the one that produced `snapshot`. */
  restore(snapshot: PolicySnapshot): BasePolicy;
}

/** Objects with learned state implement this; restore = create from the spec, then load state and progress. */
export interface Restorable {
  restoreState(state: unknown): void;
}

export function restoreWith(type: Pick<PolicyType, "create">, snapshot: PolicySnapshot): BasePolicy {
  const policy = type.create(snapshot.id, snapshot.spec, snapshot.version);
  const restorable = policy as unknown as Partial<Restorable>;
  if (typeof restorable.restoreState === "function") restorable.restoreState(snapshot.state);
  policy.restoreProgress(snapshot.progress);
  return policy;
}
