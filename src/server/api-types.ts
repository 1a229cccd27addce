import { z } from "zod";

/**
 * The wire schemas of the loop's core responses (rank, reward, activate, ingest), as zod schemas: the OpenAPI
 * document's response schemas are generated from these, the typed client SDK and the simulator's targets import
 * their `z.infer` types (type-only), so the documentation and every client's types cannot drift. The use-cases
 * in app/ declare what they return as plain types (`RankResult` in app/rank.ts, …: the dependency points
 * server → app, never back); api-types.test.ts checks at compile time that each schema's type equals its
 * use-case's result. Requests are validated by the zod schemas in events/ and app/ (the use-cases validate their
 * own input). More response schemas (reads, admin routes) are in api-responses.ts.
 */
const fieldError = z.object({ path: z.string(), message: z.string() });

export const itemResultSchema = z.object({
  index: z.number().int(),
  /** The id the item or event carries (or was given). */
  id: z.string().optional(),
  status: z.enum(["accepted", "duplicate", "rejected"]),
  errors: z.array(fieldError).optional(),
});
export type ItemResult = z.infer<typeof itemResultSchema>;

export const ingestResponseSchema = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  /** Rewards joined from events carrying a decisionId. */
  rewardsJoined: z.number().int(),
  results: z.array(itemResultSchema),
});
export type IngestResponse = z.infer<typeof ingestResponseSchema>;

export const upsertItemsResponseSchema = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  results: z.array(itemResultSchema),
});
export type UpsertItemsResponse = z.infer<typeof upsertItemsResponseSchema>;

export const rankedItemSchema = z.object({
  id: z.string(),
  /** 0-based slot. */
  position: z.number().int(),
  /** Exact (conditional) probability the item was chosen for this slot. */
  probability: z.number(),
});
export type RankedItem = z.infer<typeof rankedItemSchema>;

export const policyRefSchema = z.object({ id: z.string(), type: z.string(), version: z.number().int() });
export const rolloutRefSchema = z.object({
  id: z.string(),
  stage: z.number(),
  arm: z.enum(["candidate", "incumbent"]),
});

export const rankResponseSchema = z.object({
  decisionId: z.string(),
  policy: policyRefSchema,
  ranking: z.array(rankedItemSchema),
  candidateSource: z.enum(["request", "recommender", "catalog", "popular"]),
  /** Every fallback used to serve this decision; empty when none was needed. */
  fallbacks: z.array(z.string()),
  activated: z.boolean(),
  rollout: rolloutRefSchema.optional(),
  modelVersion: z.string().optional(),
});
export type RankResponse = z.infer<typeof rankResponseSchema>;

export const rewardResponseSchema = z.object({
  decisionId: z.string(),
  rewardId: z.string(),
  status: z.enum(["accepted", "late", "duplicate", "not_activated"]),
});
export type RewardResponse = z.infer<typeof rewardResponseSchema>;

export const activateResponseSchema = z.object({ decisionId: z.string(), activated: z.literal(true) });
export type ActivateResponse = z.infer<typeof activateResponseSchema>;
