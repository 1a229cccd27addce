import type { FieldError } from "../core/errors.js";

/**
 * Response shapes of the v1 API, shared by the HTTP server, the in-process engine and the simulator's
 * clients. Requests are validated by the zod schemas in events/ and app/ (the OpenAPI document is
 * generated from those).
 */

export interface ItemResult {
  index: number;
  /** The id the item or event carries (or was given). */
  id?: string;
  status: "accepted" | "duplicate" | "rejected";
  errors?: FieldError[];
}

export interface IngestResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Rewards joined from events carrying a decisionId. */
  rewardsJoined: number;
  results: ItemResult[];
}

export interface UpsertItemsResponse {
  accepted: number;
  rejected: number;
  results: ItemResult[];
}

export interface RankedItem {
  id: string;
  /** 0-based slot. */
  position: number;
  /** Exact (conditional) probability the item was chosen for this slot. */
  probability: number;
}

export interface RankResponse {
  decisionId: string;
  policy: { id: string; type: string; version: number };
  ranking: RankedItem[];
  candidateSource: "request" | "recommender" | "catalog" | "popular";
  /** Every fallback used to serve this decision; empty when none was needed. */
  fallbacks: string[];
  activated: boolean;
  rollout?: { id: string; stage: number; arm: "candidate" | "incumbent" };
  modelVersion?: string;
}

export interface RewardResponse {
  decisionId: string;
  rewardId: string;
  status: "accepted" | "late" | "duplicate" | "not_activated";
}

export interface ActivateResponse {
  decisionId: string;
  activated: true;
}
