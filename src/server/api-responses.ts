import { z } from "zod";
import { policyRefSchema, rolloutRefSchema } from "./api-types.js";

/**
 * Response schemas of the read and admin routes (the loop's core responses are in api-types.ts). Nested
 * reports whose shape belongs to another module (an evaluation's result, a rollout's arms and history,
 * the dashboard overview) are documented by their top-level fields and stay open below them.
 */

const featureMap = z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]));
const iso = z.string().describe("ISO-8601 time");
const open = z.record(z.string(), z.unknown());

export const decisionViewSchema = z.object({
  decisionId: z.string(),
  timestamp: iso,
  userId: z.string(),
  sessionId: z.string().optional(),
  context: featureMap,
  features: featureMap,
  candidates: z.array(z.object({ id: z.string(), features: featureMap.optional(), score: z.number().optional() })),
  slots: z.array(
    z.object({
      position: z.number().int(),
      itemId: z.string(),
      index: z.number().int(),
      propensity: z.number(),
      probabilities: z.array(z.number()),
    }),
  ),
  policy: policyRefSchema,
  baselineItemId: z.string().nullable(),
  activated: z.boolean(),
  activatedAt: iso.optional(),
  candidateSource: z.enum(["request", "recommender", "catalog", "popular"]),
  fallbacks: z.array(z.string()),
  rollout: rolloutRefSchema.optional(),
  modelVersion: z.string().optional(),
  rewards: z.array(
    z.object({
      rewardId: z.string(),
      decisionId: z.string(),
      value: z.number(),
      itemId: z.string().optional(),
      type: z.string(),
      timestamp: iso,
      /** The server's clock when the reward arrived: lateness and the join's order are judged on it. */
      receivedAt: iso,
      source: z.enum(["api", "event"]),
      late: z.boolean(),
      ignored: z.boolean(),
    }),
  ),
  join: z.object({
    decisionId: z.string(),
    status: z.enum(["joined", "defaulted", "pending", "not_activated"]),
    slots: z.array(
      z.object({
        position: z.number().int(),
        itemId: z.string(),
        status: z.enum(["joined", "defaulted", "pending", "not_activated"]),
        reward: z.number().optional(),
        rewardCount: z.number().int(),
      }),
    ),
    total: z.number().optional(),
    lateRewards: z.number().int(),
    windowClosesAt: iso.optional(),
  }),
});
export type DecisionView = z.infer<typeof decisionViewSchema>;

export const userFeaturesSchema = z.object({
  userId: z.string(),
  known: z.boolean(),
  sessionId: z.string().nullable(),
  aggregates: featureMap,
  sessionItems: z.array(z.string()),
  vector: z.object({ names: z.array(z.string()), values: z.array(z.number()) }),
  timing: z.object({ readMicros: z.number(), encodeMicros: z.number() }),
});
export type UserFeatures = z.infer<typeof userFeaturesSchema>;

export const recommendationsSchema = z.object({
  userId: z.string(),
  items: z.array(z.object({ id: z.string(), score: z.number() }).loose()),
  model: z.object({ name: z.string(), version: z.string() }),
  fallback: z.string().optional(),
  popularFill: z.number().optional(),
});
export type Recommendations = z.infer<typeof recommendationsSchema>;

/** 200: trained here (one process); 202: asked the trainer duty (scale-out), follow GET /v1/models/current. */
export const trainResponseSchema = z.union([
  z.object({ version: z.string() }),
  z.object({ status: z.literal("requested"), request: z.number().int(), requestedAt: iso, follow: z.string() }),
]);
export const modelInfoSchema = z.object({ name: z.string(), version: z.string(), trainedAt: iso });
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const policyViewSchema = z.object({
  id: z.string(),
  type: z.string(),
  version: z.number().int(),
  params: open,
  features: open,
  progress: z.object({
    updates: z.number(),
    rewardMean: z.number().nullable(),
    perPosition: z.record(z.string(), z.object({ updates: z.number(), rewardMean: z.number() })),
  }),
  default: z.boolean(),
});
export type PolicyView = z.infer<typeof policyViewSchema>;

export const policyListSchema = z.object({ default: z.string().nullable(), policies: z.array(policyViewSchema) });
export type PolicyList = z.infer<typeof policyListSchema>;

export const registerPolicyResponseSchema = z.object({
  id: z.string(),
  type: z.string(),
  version: z.number().int(),
  changed: z.boolean(),
  warmStart: open.optional(),
});
export type RegisterPolicyResponse = z.infer<typeof registerPolicyResponseSchema>;

export const setDefaultResponseSchema = z.object({ default: z.string() });
export const distributionResponseSchema = z.object({ policy: policyRefSchema, probabilities: z.array(z.number()) });
export type DistributionResponse = z.infer<typeof distributionResponseSchema>;

export const evaluationJobSchema = z.object({
  id: z.string(),
  status: z.enum(["queued", "running", "succeeded", "failed"]),
  progress: z.number().min(0).max(1),
  createdAt: iso,
  startedAt: iso.optional(),
  finishedAt: iso.optional(),
  request: open,
  result: open.optional().describe("the evaluation's report: one row per target and estimator (app/evaluate.ts)"),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type EvaluationJob = z.infer<typeof evaluationJobSchema>;

const rolloutSummaryShape = {
  id: z.string(),
  candidate: z.string(),
  incumbent: z.string(),
  status: z.string(),
  stage: z.number(),
  stageIndex: z.number().int(),
  stages: z.array(z.number()),
  candidateShare: z.number(),
};
export const rolloutSummarySchema = z.object(rolloutSummaryShape).loose();
export const rolloutListSchema = z.object({ rollouts: z.array(rolloutSummarySchema) });
/** A rollout's live view (server/rollout-view.ts): the summary plus arms, guardrails, SRM, next step, history. */
export const rolloutViewSchema = z
  .object({ ...rolloutSummaryShape, arms: open.nullable(), guardrails: z.array(open), history: z.array(open) })
  .loose();
export type RolloutSummary = z.infer<typeof rolloutSummarySchema>;
export type RolloutView = z.infer<typeof rolloutViewSchema>;

export const overviewSchema = open.describe("the dashboard's live counts (dashboard/overview.ts)");
export const healthSchema = z.object({ status: z.literal("ok"), uptimeSeconds: z.number() });

/** `GET /v1/auth/whoami`: which key a request holds (null without one); with auth "none", everything is open. */
export const whoamiSchema = z.object({
  auth: z.enum(["keys", "none"]),
  name: z.string().nullable(),
  scope: z.enum(["client", "read", "admin"]).nullable(),
});

export const personalizerRankResponseSchema = z.object({
  ranking: z.array(z.object({ id: z.string(), probability: z.number().min(0).max(1) })),
  eventId: z.string(),
  rewardActionId: z.string(),
});
export const personalizerMultiSlotResponseSchema = z.object({
  slots: z.array(z.object({ id: z.string(), rewardActionId: z.string().optional() })),
  eventId: z.string(),
});
export const personalizerConfigurationSchema = z.object({
  rewardWaitTime: z.string(),
  defaultReward: z.number(),
  rewardAggregation: z.string(),
  explorationPercentage: z.number(),
  modelExportFrequency: z.string(),
  logMirrorEnabled: z.boolean(),
  logRetentionDays: z.number().int(),
  learningMode: z.string(),
  isAutoOptimizationEnabled: z.boolean(),
});
/** Personalizer's ErrorResponse (its swagger's definitions.ErrorResponse), on /personalizer/* routes. */
export const personalizerErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    target: z.string().optional(),
    details: z.array(z.object({ code: z.string(), message: z.string(), target: z.string().optional() })).optional(),
    innerError: z.object({ code: z.string() }).optional(),
  }),
});
