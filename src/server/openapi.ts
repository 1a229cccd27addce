import { z } from "zod";
import { evaluationRequestSchema } from "../app/evaluate.js";
import { rankRequestSchema } from "../app/rank.js";
import { rewardRequestSchema } from "../app/reward.js";
import { createRolloutBody } from "../app/rollout-input.js";
import { eventInputSchema, itemInputSchema } from "../events/event-schema.js";
import { requiredScopeOfPath } from "./route-scopes.js";
import { distributionBody, registerPolicyBody, setDefaultBody } from "./routes/policies.js";

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests (so it cannot
 * drift from what the server accepts). Served at `/v1/openapi.json`.
 */
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

interface Operation {
  method: "get" | "post" | "put";
  path: string;
  summary: string;
  body?: z.ZodType;
}

const operations: Operation[] = [
  {
    method: "post",
    path: "/v1/events",
    summary: "Ingest a batch of 1–1000 user events (idempotent by eventId)",
    body: z.object({ events: z.array(eventInputSchema) }),
  },
  {
    method: "post",
    path: "/v1/items",
    summary: "Upsert catalog items",
    body: z.object({ items: z.array(itemInputSchema) }),
  },
  {
    method: "post",
    path: "/v1/rank",
    summary: "Rank candidates for a user; logs the decision",
    body: rankRequestSchema,
  },
  {
    method: "post",
    path: "/v1/decisions/{decisionId}/reward",
    summary: "Report a reward for a decision",
    body: rewardRequestSchema,
  },
  {
    method: "post",
    path: "/v1/decisions/{decisionId}/activate",
    summary: "Activate a deferred decision (it was shown)",
  },
  { method: "get", path: "/v1/decisions/{decisionId}", summary: "A logged decision with its rewards and join status" },
  { method: "get", path: "/v1/users/{userId}/features", summary: "The user's session aggregates and feature vector" },
  {
    method: "get",
    path: "/v1/users/{userId}/recommendations",
    summary: "Next items for the user's session (query: k, exclude)",
  },
  { method: "post", path: "/v1/models/train", summary: "Retrain the session recommender now and swap it in" },
  { method: "get", path: "/v1/models/current", summary: "The serving recommender model" },
  { method: "post", path: "/v1/policies", summary: "Register a policy from a spec", body: registerPolicyBody },
  { method: "get", path: "/v1/policies", summary: "Registered policies" },
  { method: "get", path: "/v1/policies/{id}", summary: "A policy's parameters and learning progress" },
  { method: "put", path: "/v1/policies/default", summary: "Choose the default policy", body: setDefaultBody },
  {
    method: "post",
    path: "/v1/policies/{id}/distribution",
    summary: "A policy's action distribution for a context",
    body: distributionBody,
  },
  {
    method: "post",
    path: "/v1/evaluations",
    summary: "Start an offline evaluation job",
    body: evaluationRequestSchema,
  },
  { method: "get", path: "/v1/evaluations/{id}", summary: "An evaluation job's status, progress and result" },
  { method: "get", path: "/v1/evaluations/{id}/report", summary: "An evaluation's self-contained HTML report" },
  { method: "post", path: "/v1/rollouts", summary: "Start a gradual rollout (admin key)", body: createRolloutBody },
  { method: "get", path: "/v1/rollouts", summary: "Rollouts (admin key)" },
  {
    method: "get",
    path: "/v1/rollouts/{id}",
    summary: "A rollout: stage, shares, per-arm metrics with intervals, history (admin key)",
  },
  { method: "post", path: "/v1/rollouts/{id}/pause", summary: "Pause advancing (admin key)" },
  { method: "post", path: "/v1/rollouts/{id}/resume", summary: "Resume (admin key)" },
  { method: "post", path: "/v1/rollouts/{id}/advance", summary: "Advance one stage now (admin key)" },
  { method: "post", path: "/v1/rollouts/{id}/abort", summary: "Abort: candidate share to 0 (admin key)" },
  { method: "get", path: "/v1/overview", summary: "Counts for the dashboard" },
  { method: "get", path: "/v1/auth/whoami", summary: "The API key this request was sent with: its name and scope" },
  { method: "get", path: "/healthz", summary: "Liveness and readiness" },
  { method: "get", path: "/metrics", summary: "Prometheus metrics" },
];

const RESPONSES = {
  "200": { description: "OK" },
  "400": { description: "Validation failed (application/problem+json with errors[{path,message}])" },
};

export function openApiDocument(extra: Operation[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of [...operations, ...extra]) {
    const entry: Record<string, unknown> = { summary: op.summary, responses: RESPONSES };
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (params.length > 0) entry.parameters = params;
    if (op.body)
      entry.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } };
    Object.assign(entry, securityOf(op));
    paths[op.path] = { ...paths[op.path], [op.method]: entry };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Loopwise API", version: "1" },
    components: { securitySchemes: SECURITY_SCHEMES },
    paths,
  };
}

/** The three ways to send a key (server/auth.ts); any one is enough. */
const SECURITY_SCHEMES = {
  bearer: { type: "http", scheme: "bearer", description: "authorization: Bearer KEY" },
  subscriptionKey: { type: "apiKey", in: "header", name: "Ocp-Apim-Subscription-Key" },
  apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
};

/** `security` and `x-required-scope` of an operation, from the one scope table (server/route-scopes.ts). */
function securityOf(op: Operation): Record<string, unknown> {
  const scope = requiredScopeOfPath(op.method, op.path);
  if (scope === "public") return { security: [], "x-required-scope": scope };
  return {
    security: Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] })),
    "x-required-scope": scope,
    responses: {
      ...RESPONSES,
      "401": { description: "No API key, or not a valid one (application/problem+json, code UNAUTHORIZED)" },
      ...(scope === "any"
        ? {}
        : {
            "403": {
              description: `The key's scope is not ${scope} or admin (application/problem+json, code FORBIDDEN)`,
            },
          }),
    },
  };
}

export type { Operation as OpenApiOperation };
