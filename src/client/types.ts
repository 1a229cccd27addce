import type { z } from "zod";
import type { evaluationRequestSchema } from "../app/evaluate.js";
import type { rankRequestSchema } from "../app/rank.js";
import type { rewardRequestSchema } from "../app/reward.js";
import type { createRolloutBody } from "../app/rollout-input.js";
import type { eventInputSchema, itemInputSchema } from "../events/event-schema.js";
import type * as Responses from "../server/api-responses.js";
import type { Problem } from "../server/problem.js";
import type { distributionBody, registerPolicyBody, setDefaultBody } from "../server/routes/policies.js";

/**
 * The client's request and response types: `z.input` of the schemas the server validates requests with,
 * and the `z.infer` response types the OpenAPI document is generated from. Type-only imports: the client
 * pulls no server code at run time.
 */
export type RankRequest = z.input<typeof rankRequestSchema>;
export type RewardRequest = z.input<typeof rewardRequestSchema>;
export type EventInput = z.input<typeof eventInputSchema>;
export type ItemInput = z.input<typeof itemInputSchema>;
export type RegisterPolicyRequest = z.input<typeof registerPolicyBody>;
export type SetDefaultPolicyRequest = z.input<typeof setDefaultBody>;
export type DistributionRequest = z.input<typeof distributionBody>;
export type EvaluationRequest = z.input<typeof evaluationRequestSchema>;
export type CreateRolloutRequest = z.input<typeof createRolloutBody>;

export type {
  ActivateResponse,
  IngestResponse,
  ItemResult,
  RankedItem,
  RankResponse,
  RewardResponse,
  UpsertItemsResponse,
} from "../server/api-types.js";
export type DecisionView = Responses.DecisionView;
export type UserFeatures = Responses.UserFeatures;
export type Recommendations = Responses.Recommendations;
export type ModelInfo = Responses.ModelInfo;
export type PolicyView = Responses.PolicyView;
export type PolicyList = Responses.PolicyList;
export type RegisterPolicyResponse = Responses.RegisterPolicyResponse;
export type DistributionResponse = Responses.DistributionResponse;
export type EvaluationJob = Responses.EvaluationJob;
export type RolloutSummary = Responses.RolloutSummary;
export type RolloutView = Responses.RolloutView;
export type ProblemDocument = Problem;
