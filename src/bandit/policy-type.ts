import type { BasePolicy, PolicySnapshot } from "./base-policy.js";
import type { PolicySpec } from "./policy.js";
import type { SlicedCopy } from "./sliced-snapshot.js";

/** One entry of the `policyTypes` registry: how to build a policy from a spec and from a snapshot. */
export interface PolicyType {
  description: string;
  /** True when, with default parameters, every unplaced candidate gets probability > 0. */
  explores: boolean;
  /** Validates `spec` (throws VALIDATION_FAILED) and builds a fresh policy. */
  create(id: string, spec: PolicySpec, version: number): BasePolicy;
  /** Rebuilds a policy equal to the one that produced `snapshot`. */
  restore(snapshot: PolicySnapshot): BasePolicy;
  /** `restore` in steps (`restoreWithInSlices`); a type without it restores in one step. */
  restoreInSlices?(snapshot: PolicySnapshot): SlicedCopy<BasePolicy>;
}

/** Objects with learned state implement this; restore = create from the spec, then load state and progress. */
export interface Restorable {
  restoreState(state: unknown): void;
  /** `restoreState` in steps (units as `snapshotInSlices`: arms); the policy changes only at `result()`. */
  restoreStateInSlices?(state: unknown): SlicedCopy<void>;
}

export function restoreWith(type: Pick<PolicyType, "create">, snapshot: PolicySnapshot): BasePolicy {
  const policy = type.create(snapshot.id, snapshot.spec, snapshot.version);
  const restorable = policy as unknown as Partial<Restorable>;
  if (typeof restorable.restoreState === "function") restorable.restoreState(snapshot.state);
  policy.restoreProgress(snapshot.progress);
  return policy;
}

/**
 * `restoreWith` in steps: the policy is created at once (its empty state: ~10-15 ms for the default policy's 2^18
 * shared slots), its state restored `step(n)` arms at a time where the policy can (`restoreStateInSlices`), its
 * progress at `result()`. Why: an API node that joins or falls behind restores a full while it serves
 * (app/policy-follower.ts); the default policy's 2,000 arms at once held its event loop ~100-250 ms. Same code per
 * arm as `restoreWith`, so the same policy (tested bit for bit).
 */
export function restoreWithInSlices(
  type: Pick<PolicyType, "create">,
  snapshot: PolicySnapshot,
): SlicedCopy<BasePolicy> {
  const policy = type.create(snapshot.id, snapshot.spec, snapshot.version);
  const restorable = policy as unknown as Partial<Restorable>;
  const state =
    typeof restorable.restoreStateInSlices === "function" ? restorable.restoreStateInSlices(snapshot.state) : undefined;
  let done = false;
  const step = (max: number): boolean => {
    if (state) return state.step(max);
    if (!done && typeof restorable.restoreState === "function") restorable.restoreState(snapshot.state);
    done = true;
    return true;
  };
  return {
    step,
    result: () => {
      if (state) state.result();
      else step(Number.POSITIVE_INFINITY);
      policy.restoreProgress(snapshot.progress);
      return policy;
    },
  };
}
