import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { policyTemplates } from "../../app/policy-templates.js";
import type { WarmStartRange, WarmStartResult } from "../../app/warm-start.js";
import { warmStartSchema } from "../../app/warm-start.js";
import type { BasePolicy } from "../../bandit/base-policy.js";
import type { PolicyRegistry } from "../../bandit/policy-registry.js";
import { LoopwiseError } from "../../core/errors.js";
import { parseOrThrow } from "../../core/validate.js";
import { featureMapSchema, idSchema, itemIdSchema } from "../../events/event-schema.js";
import type { RecordAction } from "./audit.js";

const featureMap = featureMapSchema;

export const registerPolicyBody = z.strictObject({
  id: idSchema.optional(),
  type: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).optional(),
  features: z.record(z.string(), z.unknown()).optional(),
  /**
   * Train the new policy on the decision log before it serves (app/warm-start.ts): `true` for the whole
   * log, or `{from, to}` decision times. Only when the registration creates a policy or a new version.
   */
  warmStart: warmStartSchema.optional(),
});

export const setDefaultBody = z.strictObject({ id: idSchema });

export const distributionBody = z.strictObject({
  context: featureMap.default({}),
  /** The user's feature-store aggregates, as rank passes them (PolicyInput.profile). */
  profile: featureMap.optional(),
  candidates: z
    .array(z.strictObject({ id: itemIdSchema, features: featureMap.optional(), score: z.number().finite().optional() }))
    .min(1)
    .max(1000),
  placed: z.array(z.number().int().min(0)).max(100).optional(),
});

interface IdParams {
  id: string;
}

/**
 * Policy management under /v1/policies: register from a spec, list, show parameters and learning
 * progress, choose the default, and compute a policy's distribution for a logged context (offline
 * evaluation, debugging).
 */
export function policiesRoutes(deps: {
  registry: PolicyRegistry;
  /** Trains a new policy on the decision log; resolves with the trained policy (the one given, or a copy). */
  warmStart?: (policy: BasePolicy, range: WarmStartRange) => Promise<{ result: WarmStartResult; policy: BasePolicy }>;
  /** Writes admin actions to the audit timeline (routes/audit.ts). */
  record?: RecordAction;
}): FastifyPluginAsync {
  const record: RecordAction = deps.record ?? (async () => undefined);
  const { registry } = deps;
  const found = (id: string) => {
    const policy = registry.find(id);
    if (!policy) throw new LoopwiseError("POLICY_NOT_FOUND", `policy "${id}" is not registered`);
    return policy;
  };
  const view = (id: string) => {
    const policy = found(id);
    return { ...policy.describe(), default: registry.defaultPolicyId === policy.id };
  };
  return async (app) => {
    app.post("/v1/policies", async (req, reply) => {
      const { warmStart: range, ...spec } = parseOrThrow(registerPolicyBody, req.body);
      const train = deps.warmStart;
      if (range !== undefined && !train) {
        throw new LoopwiseError("VALIDATION_FAILED", "warmStart: this server has no decision log to train from", [
          { path: "warmStart", message: "not available here" },
        ]);
      }
      let trained: WarmStartResult | undefined;
      const prepare =
        range !== undefined && train
          ? async (p: BasePolicy) => {
              const out = await train(p, range === true ? {} : range);
              trained = out.result;
              return out.policy;
            }
          : undefined;
      const { policy, changed } = await registry.register(spec, prepare);
      await record(req, {
        action: trained ? "policy.warm_start" : "policy.register",
        target: { kind: "policy", id: policy.id },
        summary: `${changed ? "registered" : "re-registered unchanged"} ${policy.type} policy "${policy.id}" v${policy.version}${trained ? ", warm-started on the log" : ""}`,
        details: { spec, changed, version: policy.version, ...(trained ? { warmStart: trained } : {}) },
      });
      reply.code(changed ? 201 : 200);
      return {
        id: policy.id,
        type: policy.type,
        version: policy.version,
        changed,
        ...(trained ? { warmStart: trained } : {}),
      };
    });
    // The built-in specs to register from (the dashboard's "new policy" form).
    app.get("/v1/policy-templates", async () => ({ templates: policyTemplates() }));
    app.get("/v1/policies", async () => ({
      default: registry.defaultPolicyId ?? null,
      policies: registry.list().map((p) => view(p.id)),
    }));
    app.put("/v1/policies/default", async (req) => {
      const body = parseOrThrow(setDefaultBody, req.body);
      const previous = registry.defaultPolicyId ?? null;
      await registry.setDefault(body.id);
      await record(req, {
        action: "policy.make_default",
        target: { kind: "policy", id: body.id },
        summary: `made "${body.id}" the default policy (was ${previous === null ? "none" : `"${previous}"`})`,
        details: { previous },
      });
      return { default: body.id };
    });
    app.get<{ Params: IdParams }>("/v1/policies/:id", async (req) => view(req.params.id));
    app.post<{ Params: IdParams }>("/v1/policies/:id/distribution", async (req) => {
      const policy = found(req.params.id);
      const body = parseOrThrow(distributionBody, req.body);
      const n = body.candidates.length;
      const bad = (body.placed ?? []).findIndex((i) => i >= n);
      if (bad >= 0) {
        throw new LoopwiseError("VALIDATION_FAILED", `placed[${bad}] is not a candidate index`, [
          { path: `placed[${bad}]`, message: `expected an index below ${n}` },
        ]);
      }
      const input = body.profile
        ? { context: body.context, profile: body.profile, candidates: body.candidates }
        : { context: body.context, candidates: body.candidates };
      const p = policy.distribution(input, body.placed ?? []);
      return { policy: { id: policy.id, type: policy.type, version: policy.version }, probabilities: Array.from(p) };
    });
  };
}
