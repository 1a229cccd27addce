import { LoopwiseError } from "../core/errors.js";
import { ownValue } from "../core/own.js";
import type { BasePolicy, PolicySnapshot } from "./base-policy.js";
import { baselineType } from "./policies/baseline.js";
import { betaBernoulliType } from "./policies/beta-bernoulli.js";
import { epsilonGreedyType } from "./policies/epsilon-greedy.js";
import { greedyType } from "./policies/greedy.js";
import { linUcbType } from "./policies/linucb.js";
import { softmaxType } from "./policies/softmax.js";
import { squareCbType } from "./policies/squarecb.js";
import { thompsonType } from "./policies/thompson.js";
import { thompsonLogisticType } from "./policies/thompson-logistic.js";
import { uniformType } from "./policies/uniform.js";
import type { PolicySpec } from "./policy.js";
import type { PolicyType } from "./policy-type.js";
import type { SlicedCopy } from "./sliced-snapshot.js";

/** Every policy type by name. The contract test suite runs every member. */
export const policyTypes: Readonly<Record<string, PolicyType>> = {
  thompson: thompsonType,
  "thompson-logistic": thompsonLogisticType,
  "beta-bernoulli": betaBernoulliType,
  linucb: linUcbType,
  "epsilon-greedy": epsilonGreedyType,
  softmax: softmaxType,
  squarecb: squareCbType,
  uniform: uniformType,
  greedy: greedyType,
  baseline: baselineType,
};

/**
 * The product default, decided by measurement on both the bake-off (eval/cb.eval.ts, ../shared/data/cb) and
 * the simulated shop through the engine (src/sim/experiments/learning.ts, via "engine"; src/bandit/README.md
 * has the table). Contextual Thompson sampling on the hybrid model (reward-model.ts; Li et al. 2010's hybrid
 * LinUCB idea): a shared diagonal model over hashed context × item-feature interactions without item ids
 * (generalizes across items), plus a small full-covariance part per item over the context (armDims 64,
 * armPriorVariance 0.01) that the bake-off's per-class problems (letter: 26 arms) need to beat
 * ε-greedy(0.05). The per-item part does not see the item's own features (armFeatures "context"): they are
 * constant per item, so there they only duplicated its intercept with a prior widened by their scale.
 * It reads no feature-store aggregates (features.profile "none"): through the engine, the ~45 aggregates
 * (mostly uninformative for any one shop, always present, uncentered and collinear) cost the diagonal
 * model most of what it learned (gap closed on seed 42: 5% with all of them, 33% with only the affinity and
 * last categories, 50% with none; the session still personalizes through the recommender's score, a
 * candidate feature). A policy that wants aggregates names them in its spec (`profile: ["affinity_*"]`).
 * Numeric features are symlog'd (encoder.ts): raw prices and scores swamp one-hot features in a
 * fixed-prior Bayesian model. The shared prior is narrow (priorVariance 0.001): with ~300 active slots per
 * candidate a wide prior makes every Thompson sample noise. explorationScale 0.2 (near-greedy, as the
 * bake-off found best), a 0.5% floor for off-policy support, exact pool propensities (M = 64, refreshed
 * every 10 rewards). Thompson rather than LinUCB: rewards arrive minutes later in the product, and a
 * deterministic optimistic policy serves the same arm to every request until they do (Chapelle & Li 2011,
 * §4, delayed feedback). Memory: the shared model 2^18 slots (~8 MB with its serving copy) plus ~34 KB per
 * item, 2000 items kept (LRU).
 */
export const DEFAULT_POLICY_SPEC: PolicySpec = {
  type: "thompson",
  params: {
    model: "hybrid",
    priorVariance: 0.001,
    armPriorVariance: 0.01,
    armDims: 64,
    armFeatures: "context",
    maxArms: 2000,
    explorationScale: 0.2,
    floor: 0.005,
    poolSize: 64,
    refreshEvery: 10,
  },
  features: { interactions: true, id: false, numeric: "symlog", profile: "none" },
};

function typeOf(name: string): PolicyType {
  const t = ownValue(policyTypes, name);
  if (!t) {
    throw new LoopwiseError("VALIDATION_FAILED", `unknown policy type "${name}"`, [
      { path: "type", message: `expected one of ${Object.keys(policyTypes).join(", ")}` },
    ]);
  }
  return t;
}

/** Builds a fresh policy; throws VALIDATION_FAILED for an unknown type or bad params/features. */
export function createPolicy(id: string, spec: PolicySpec, version = 1): BasePolicy {
  return typeOf(spec.type).create(id, spec, version);
}

/** Rebuilds a policy from `Policy.snapshot()` output (same distributions, same learning progress). */
export function restorePolicy(snapshot: unknown): BasePolicy {
  const s = checkedSnapshot(snapshot);
  return typeOf(s.type).restore(s);
}

/**
 * `restorePolicy` in steps of up to `max` arms (`SlicedCopy`: `step(max)` until true, then `result()`), for a
 * caller that keeps its event loop turning meanwhile (app/policy-follower.ts); the same policy as `restorePolicy`.
 * A type without a sliced restore restores at the first step. `snapshot` must not change until `result()`.
 */
export function restorePolicyInSlices(snapshot: unknown): SlicedCopy<BasePolicy> {
  const s = checkedSnapshot(snapshot);
  const type = typeOf(s.type);
  if (type.restoreInSlices) return type.restoreInSlices(s);
  let policy: BasePolicy | undefined;
  return {
    step: () => {
      policy ??= type.restore(s);
      return true;
    },
    result: () => (policy ??= type.restore(s)),
  };
}

function checkedSnapshot(snapshot: unknown): PolicySnapshot {
  const s = snapshot as PolicySnapshot;
  if (!s || typeof s !== "object" || typeof s.type !== "string" || typeof s.id !== "string") {
    throw new LoopwiseError("VALIDATION_FAILED", "not a policy snapshot", [
      { path: "snapshot", message: "expected { id, type, version, spec, progress, state }" },
    ]);
  }
  return s;
}

/** A spec from the CLI: a type name (`thompson`) or JSON (`{"type":"thompson","params":{...}}`). */
export function parsePolicySpec(text: string): PolicySpec {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return { type: trimmed };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    throw new LoopwiseError("INVALID_JSON", `policy spec is not valid JSON: ${(e as Error).message}`);
  }
  const spec = value as PolicySpec;
  if (typeof spec?.type !== "string") {
    throw new LoopwiseError("VALIDATION_FAILED", "policy spec needs a type", [{ path: "type", message: "required" }]);
  }
  return spec;
}
