import { LoopwiseError } from "../core/errors.js";
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
 * The product default, decided by the bake-off (eval/cb.eval.ts, ../shared/data/cb): contextual Thompson
 * sampling with one full-covariance Bayesian linear model per candidate (the disjoint model: calibrated
 * uncertainty, per-item × context weights), a narrowed posterior (explorationScale 0.2: the bake-off found
 * near-greedy exploration best), a 0.5% floor so every candidate keeps support for off-policy evaluation,
 * and exact pool propensities (M = 64, refreshed every 10 rewards). It beats ε-greedy(0.05), the floor,
 * on all four data sets. LinUCB on the same model (optimistic regression) is as good or slightly better
 * there and faster, but the bake-off's feedback is instantaneous; in the product rewards arrive minutes
 * later, and a deterministic optimistic policy then serves the same arm to every request until they do,
 * while Thompson sampling randomizes across its posterior (Chapelle & Li 2011, §4, delayed feedback).
 * Memory: ~34 KB per arm (armDims 64, packed covariance, with the serving copy), 2000 arms kept; for catalogs where
 * thousands of distinct items are ranked, use `model: "shared"` (hashed ADF, any size).
 */
export const DEFAULT_POLICY_SPEC: PolicySpec = {
  type: "thompson",
  params: {
    model: "disjoint",
    armDims: 64,
    maxArms: 2000,
    priorVariance: 0.1,
    explorationScale: 0.2,
    floor: 0.005,
    poolSize: 64,
    refreshEvery: 10,
  },
  features: {},
};

function typeOf(name: string): PolicyType {
  const t = policyTypes[name];
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
  const s = snapshot as PolicySnapshot;
  if (!s || typeof s !== "object" || typeof s.type !== "string" || typeof s.id !== "string") {
    throw new LoopwiseError("VALIDATION_FAILED", "not a policy snapshot", [
      { path: "snapshot", message: "expected { id, type, version, spec, progress, state }" },
    ]);
  }
  return typeOf(s.type).restore(s);
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
