import { z } from "zod";
import { evaluationRequestSchema } from "../app/evaluate.js";
import {
  personalizerMultiSlotRankSchema,
  personalizerMultiSlotRewardSchema,
  personalizerRankSchema,
  personalizerRewardSchema,
} from "../app/personalizer-mapping.js";
import { rankRequestSchema } from "../app/rank.js";
import { rewardRequestSchema } from "../app/reward.js";
import { createRolloutBody } from "../app/rollout-input.js";
import { eventInputSchema, itemInputSchema } from "../events/event-schema.js";
import * as R from "./api-responses.js";
import * as T from "./api-types.js";
import { dashboardOperations } from "./openapi-dashboard.js";
import { PERSONALIZER_API_VERSIONS } from "./routes/personalizer.js";
import { distributionBody, registerPolicyBody, setDefaultBody } from "./routes/policies.js";
import { recommendationsQuerySchema } from "./routes/recommendations.js";

/** One documented route. `path` uses OpenAPI's `{param}`; the response schema is what a success answers. */
export interface Operation {
  operationId: string;
  method: "get" | "post" | "put";
  path: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  success: {
    status: number;
    schema?: z.ZodType;
    contentType?: string;
    description?: string;
    /** Response headers the success carries: name → description. */
    headers?: Record<string, string>;
  };
  /** Request headers the route reads (beyond the key): name → description. */
  headerParams?: Record<string, string>;
  /** Other success statuses with the same body (registering an unchanged policy answers 200, not 201). */
  alsoSucceeds?: number[];
  /** The error body on this route: RFC 9457 problems, or Personalizer's ErrorResponse on its routes. */
  errors?: "problem" | "personalizer";
}

const ok = (schema: z.ZodType, status = 200) => ({ status, schema });
const html = { status: 200, contentType: "text/html", description: "an HTML page" };

const loop: Operation[] = [
  {
    operationId: "ingestEvents",
    method: "post",
    path: "/v1/events",
    tag: "events",
    summary: "Ingest a batch of 1–1000 user events (idempotent by eventId); answers per item",
    body: z.object({ events: z.array(eventInputSchema) }),
    success: ok(T.ingestResponseSchema),
  },
  {
    operationId: "upsertItems",
    method: "post",
    path: "/v1/items",
    tag: "items",
    summary: "Upsert catalog items; answers per item",
    body: z.object({ items: z.array(itemInputSchema) }),
    success: ok(T.upsertItemsResponseSchema),
  },
  {
    operationId: "rank",
    method: "post",
    path: "/v1/rank",
    tag: "decisions",
    summary: "Rank candidates for a user; logs the decision (idempotent by decisionId)",
    body: rankRequestSchema,
    success: ok(T.rankResponseSchema),
  },
  {
    operationId: "reward",
    method: "post",
    path: "/v1/decisions/{decisionId}/reward",
    tag: "decisions",
    summary: "Report a reward for a decision (idempotent by rewardId)",
    body: rewardRequestSchema,
    success: ok(T.rewardResponseSchema),
  },
  {
    operationId: "activate",
    method: "post",
    path: "/v1/decisions/{decisionId}/activate",
    tag: "decisions",
    summary: "Activate a deferred decision (it was shown): its reward window opens now",
    success: ok(T.activateResponseSchema),
  },
  {
    operationId: "getDecision",
    method: "get",
    path: "/v1/decisions/{decisionId}",
    tag: "decisions",
    summary: "A logged decision with its rewards and join status",
    success: ok(R.decisionViewSchema),
  },
  {
    operationId: "getUserFeatures",
    method: "get",
    path: "/v1/users/{userId}/features",
    tag: "features",
    summary: "The user's session aggregates and feature vector",
    success: ok(R.userFeaturesSchema),
  },
  {
    operationId: "getRecommendations",
    method: "get",
    path: "/v1/users/{userId}/recommendations",
    tag: "recommendations",
    summary: "Next items for the user's session",
    query: recommendationsQuerySchema,
    success: ok(R.recommendationsSchema),
  },
  {
    operationId: "trainModel",
    method: "post",
    path: "/v1/models/train",
    tag: "recommendations",
    summary: "Retrain the session recommender now and swap it in (admin); in scale-out, 202: the trainer duty retrains",
    success: ok(R.trainResponseSchema),
    alsoSucceeds: [202],
  },
  {
    operationId: "getCurrentModel",
    method: "get",
    path: "/v1/models/current",
    tag: "recommendations",
    summary: "The serving recommender model",
    success: ok(R.modelInfoSchema),
  },
];

const manage: Operation[] = [
  {
    operationId: "registerPolicy",
    method: "post",
    path: "/v1/policies",
    tag: "policies",
    summary: "Register a policy from a spec (admin): 201 when created or a new version, 200 when unchanged",
    body: registerPolicyBody,
    success: ok(R.registerPolicyResponseSchema, 201),
    alsoSucceeds: [200],
  },
  {
    operationId: "listPolicies",
    method: "get",
    path: "/v1/policies",
    tag: "policies",
    summary: "Registered policies",
    success: ok(R.policyListSchema),
  },
  {
    operationId: "getPolicy",
    method: "get",
    path: "/v1/policies/{id}",
    tag: "policies",
    summary: "A policy's parameters and learning progress",
    success: ok(R.policyViewSchema),
  },
  {
    operationId: "setDefaultPolicy",
    method: "put",
    path: "/v1/policies/default",
    tag: "policies",
    summary: "Choose the default policy (admin)",
    body: setDefaultBody,
    success: ok(R.setDefaultResponseSchema),
  },
  {
    operationId: "policyDistribution",
    method: "post",
    path: "/v1/policies/{id}/distribution",
    tag: "policies",
    summary: "A policy's exact action distribution for a context",
    body: distributionBody,
    success: ok(R.distributionResponseSchema),
  },
  {
    operationId: "startEvaluation",
    method: "post",
    path: "/v1/evaluations",
    tag: "evaluations",
    summary: "Start an offline evaluation job (202 with its Location)",
    body: evaluationRequestSchema,
    success: ok(R.evaluationJobSchema, 202),
  },
  {
    operationId: "getEvaluation",
    method: "get",
    path: "/v1/evaluations/{id}",
    tag: "evaluations",
    summary: "An evaluation job's status, progress and result",
    success: ok(R.evaluationJobSchema),
  },
  {
    operationId: "getEvaluationReport",
    method: "get",
    path: "/v1/evaluations/{id}/report",
    tag: "evaluations",
    summary: "An evaluation's self-contained HTML report",
    success: html,
  },
  {
    operationId: "startRollout",
    method: "post",
    path: "/v1/rollouts",
    tag: "rollouts",
    summary: "Start a gradual rollout (admin)",
    body: createRolloutBody,
    success: ok(R.rolloutViewSchema, 201),
  },
  {
    operationId: "listRollouts",
    method: "get",
    path: "/v1/rollouts",
    tag: "rollouts",
    summary: "Rollouts",
    success: ok(R.rolloutListSchema),
  },
  {
    operationId: "getRollout",
    method: "get",
    path: "/v1/rollouts/{id}",
    tag: "rollouts",
    summary: "A rollout: stage, shares, per-arm metrics with intervals, history",
    success: ok(R.rolloutViewSchema),
  },
  ...(["pause", "resume", "advance", "abort"] as const).map(
    (action): Operation => ({
      operationId: `${action}Rollout`,
      method: "post",
      path: `/v1/rollouts/{id}/${action}`,
      tag: "rollouts",
      summary: `${action[0]?.toUpperCase()}${action.slice(1)} a rollout (admin); answers its view`,
      success: ok(R.rolloutViewSchema),
    }),
  ),
];

const service: Operation[] = [
  {
    operationId: "getOverview",
    method: "get",
    path: "/v1/overview",
    tag: "dashboard",
    summary: "Counts for the dashboard",
    success: ok(R.overviewSchema),
  },
  { operationId: "dashboard", method: "get", path: "/", tag: "dashboard", summary: "The dashboard", success: html },
  {
    operationId: "dashboardPage",
    method: "get",
    path: "/dashboard",
    tag: "dashboard",
    summary: "The dashboard",
    success: html,
  },
  {
    operationId: "dashboardScript",
    method: "get",
    path: "/dashboard/{file}",
    tag: "dashboard",
    summary: "One of the dashboard's ES modules",
    success: { status: 200, contentType: "text/javascript", description: "JavaScript" },
  },
  {
    operationId: "health",
    method: "get",
    path: "/healthz",
    tag: "service",
    summary: "Liveness",
    success: ok(R.healthSchema),
  },
  {
    operationId: "metrics",
    method: "get",
    path: "/metrics",
    tag: "service",
    summary: "Prometheus metrics",
    success: { status: 200, contentType: "text/plain", description: "Prometheus text exposition" },
  },
  {
    operationId: "whoami",
    method: "get",
    path: "/v1/auth/whoami",
    tag: "service",
    summary: "The API key this request was sent with: its name and scope (the dashboard's sign-in)",
    success: ok(R.whoamiSchema),
  },
  {
    operationId: "openapi",
    method: "get",
    path: "/v1/openapi.json",
    tag: "service",
    summary: "This document",
    success: { status: 200, schema: z.record(z.string(), z.unknown()) },
  },
];

/** The Personalizer-compatible routes, under each served API version (routes/personalizer.ts). */
function personalizerOperations(): Operation[] {
  const noContent = {
    status: 204,
    description: "Done (also for an eventId Loopwise does not know, as Personalizer answered)",
    headers: {
      "loopwise-status":
        "what happened: accepted, duplicate, late, not_activated, activated or unknown_event (one per slot, comma-separated, on multi-slot routes)",
    },
  };
  const idempotencyKey = {
    "idempotency-key":
      "names the reward: a repeated key is counted once (without it, every call counts, as in Personalizer)",
  };
  return PERSONALIZER_API_VERSIONS.flatMap(({ prefix }) => {
    const suffix = prefix.endsWith("v1.0")
      ? ""
      : `_${prefix
          .split("/")
          .pop()
          ?.replace(/[^A-Za-z0-9]/g, "")}`;
    const op = (o: Omit<Operation, "tag" | "errors">): Operation => ({
      ...o,
      operationId: `personalizer${o.operationId}${suffix}`,
      path: `${prefix}${o.path}`,
      tag: "personalizer",
      errors: "personalizer",
    });
    return [
      op({
        operationId: "Rank",
        method: "post",
        path: "/rank",
        summary: "Personalizer Rank",
        body: personalizerRankSchema,
        success: ok(R.personalizerRankResponseSchema, 201),
      }),
      op({
        operationId: "Reward",
        method: "post",
        path: "/events/{eventId}/reward",
        summary: "Personalizer Events_Reward",
        body: personalizerRewardSchema,
        headerParams: idempotencyKey,
        success: noContent,
      }),
      op({
        operationId: "Activate",
        method: "post",
        path: "/events/{eventId}/activate",
        summary: "Personalizer Events_Activate",
        success: noContent,
      }),
      op({
        operationId: "MultiSlotRank",
        method: "post",
        path: "/multislot/rank",
        summary: "Personalizer MultiSlot_Rank",
        body: personalizerMultiSlotRankSchema,
        success: ok(R.personalizerMultiSlotResponseSchema, 201),
      }),
      op({
        operationId: "MultiSlotReward",
        method: "post",
        path: "/multislot/events/{eventId}/reward",
        summary: "Personalizer MultiSlotEvents_Reward",
        body: personalizerMultiSlotRewardSchema,
        headerParams: idempotencyKey,
        success: noContent,
      }),
      op({
        operationId: "MultiSlotActivate",
        method: "post",
        path: "/multislot/events/{eventId}/activate",
        summary: "Personalizer MultiSlotEvents_Activate",
        success: noContent,
      }),
      op({
        operationId: "GetServiceConfiguration",
        method: "get",
        path: "/configurations/service",
        summary: "Personalizer ServiceConfiguration_Get, mapped from Loopwise's settings",
        success: ok(R.personalizerConfigurationSchema),
      }),
    ];
  });
}

export const operations: Operation[] = [
  ...loop,
  ...manage,
  ...service,
  ...dashboardOperations,
  ...personalizerOperations(),
];
