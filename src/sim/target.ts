import type { z } from "zod";
import type { rankRequestSchema } from "../app/rank.js";
import type { rewardRequestSchema } from "../app/reward.js";
import type { eventInputSchema, itemInputSchema } from "../events/event-schema.js";
import type { IngestResponse, RankResponse, RewardResponse, UpsertItemsResponse } from "../server/api-types.js";

/**
 * Request bodies exactly as the v1 API takes them (JSON): the input types of the schemas that validate
 * them, so the simulator cannot drift from the API.
 */
export type SimEventBody = z.input<typeof eventInputSchema>;
export type SimItemBody = z.input<typeof itemInputSchema>;
export type SimRankBody = z.input<typeof rankRequestSchema>;
export type SimRewardBody = z.input<typeof rewardRequestSchema>;

export interface SimPolicyBody {
  id?: string;
  type: string;
  params?: Record<string, unknown>;
  features?: Record<string, unknown>;
}

/** The fields of a rollout's status the simulator records in its timeline (tolerant of extra fields). */
export interface RolloutStatusLike {
  id: string;
  stage?: number;
  status?: string;
  share?: number;
  [key: string]: unknown;
}

/**
 * What the simulator drives: a Loopwise over HTTP or in process. Same bodies and responses as the API.
 * `tick` exists only in process (runs the engine's periodic work after the simulated clock moved).
 */
export interface SimTarget {
  readonly kind: "http" | "in-process" | "fake";
  upsertItems(body: { items: SimItemBody[] }): Promise<UpsertItemsResponse>;
  ingestEvents(body: { events: SimEventBody[] }): Promise<IngestResponse>;
  rank(body: SimRankBody): Promise<RankResponse>;
  reward(decisionId: string, body: SimRewardBody): Promise<RewardResponse>;
  registerPolicy(body: SimPolicyBody): Promise<{ id: string; version?: number }>;
  startRollout?(body: Record<string, unknown>): Promise<RolloutStatusLike>;
  getRollout?(id: string): Promise<RolloutStatusLike>;
  tick?(): Promise<void>;
  close(): Promise<void>;
}

/** Error raised by a target: the HTTP status (0 when the request never got an answer) and the problem code. */
export class TargetError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "TargetError";
    this.status = status;
    this.code = code;
  }
}
