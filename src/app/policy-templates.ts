import type { PolicySpec } from "../bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, policyTypes } from "../bandit/policy-types.js";

/** A built-in spec the dashboard offers when registering a policy. */
export interface PolicyTemplate {
  /** `default` for the product default; otherwise the policy type. */
  name: string;
  description: string;
  /** True when every unplaced candidate gets probability > 0 (off-policy evaluation needs it). */
  explores: boolean;
  /** The spec to send as POST /v1/policies `{type, params, features}` (add an id). */
  spec: PolicySpec;
  /** The parameters a policy of this spec runs with (its defaults filled in). */
  params: Record<string, unknown>;
}

let cached: PolicyTemplate[] | undefined;

/**
 * The product default spec, then every registered policy type with its default parameters, read from a
 * policy built once from each spec (so they are the parameters it really runs with, not a copy here).
 */
export function policyTemplates(): PolicyTemplate[] {
  cached ??= [
    template("default", DEFAULT_POLICY_SPEC, "the product default (bandit/policy-types.ts, DEFAULT_POLICY_SPEC)"),
    ...Object.entries(policyTypes).map(([type, t]) => template(type, { type }, t.description)),
  ];
  return cached;
}

function template(name: string, spec: PolicySpec, description: string): PolicyTemplate {
  const described = createPolicy(`template-${name}`, spec).describe();
  const type = policyTypes[spec.type];
  return {
    name,
    description,
    explores: type?.explores ?? false,
    spec,
    params: (described.params ?? {}) as Record<string, unknown>,
  };
}
