import type { FeatureMap } from "../core/types.js";

/**
 * One rank call, logged completely: everything needed to learn from it and to evaluate other policies
 * offline (context, candidates in order, per-slot choice with exact propensity and distribution, policy
 * version, baseline, activation). Rewards arrive later and are joined by `decisionId`.
 */
export interface DecisionRecord {
  decisionId: string;
  /** Epoch ms when the decision was made. */
  timestamp: number;
  userId: string;
  sessionId?: string;
  /** The request context as sent. */
  context: FeatureMap;
  /** The feature snapshot (session aggregates) the policy actually saw: point-in-time correct. */
  features: FeatureMap;
  /** Candidate actions in the order given to the policy. */
  candidates: LoggedCandidate[];
  /** One entry per filled slot. */
  slots: LoggedSlot[];
  policy: { id: string; type: string; version: number };
  /** The application's own choice (its first candidate), for apprentice-style comparisons. */
  baselineItemId: string | null;
  /** False while a deferred decision waits for `activate`; rewards for never-activated decisions are ignored. */
  activated: boolean;
  activatedAt?: number;
  /** Where candidates came from: the request, the recommender, or the catalog. */
  candidateSource: "request" | "recommender" | "catalog" | "popular";
  /** Fallbacks used to serve this decision (empty when everything worked). */
  fallbacks: string[];
  /** Set when the decision was routed by a rollout. */
  rollout?: { id: string; stage: number; arm: "candidate" | "incumbent" };
  /** The recommender model version, when it generated or scored candidates. */
  modelVersion?: string;
}

export interface LoggedCandidate {
  id: string;
  features?: FeatureMap;
  score?: number;
}

export interface LoggedSlot {
  position: number;
  itemId: string;
  /** Index into `candidates`. */
  index: number;
  /** Exact (conditional) probability the item was chosen for this slot. */
  propensity: number;
  /**
   * Full conditional distribution for this slot, aligned with `candidates`: the policy's own Float64Array in a
   * decision rank just made (no copy), a plain array in one read back from the log.
   */
  probabilities: number[] | Float64Array;
}

export interface RewardRecord {
  /** Idempotency key: a duplicate id is not counted twice. */
  rewardId: string;
  decisionId: string;
  value: number;
  /** The slot's item the reward is about; undefined means the decision as a whole (slot 0). */
  itemId?: string;
  /** e.g. click, purchase, or "reward" for the API route. */
  type: string;
  /** Epoch ms when the reward happened, by the client's clock (validated at the API; not used for lateness). */
  timestamp: number;
  /**
   * Epoch ms when the server received it: what lateness and arrival order are judged on (reward-reducer.ts).
   * Absent on imported or historical rewards, which are taken to arrive as they happened (= `timestamp`).
   */
  receivedAt?: number;
  source: "api" | "event";
}

/** Outcome of offering a reward to the store. */
export type RewardOutcome = "accepted" | "late" | "duplicate" | "not_activated";

export interface StoredReward extends RewardRecord {
  /** Server arrival time (`receivedAt ?? timestamp` when stored); the join's order and lateness. */
  receivedAt: number;
  /** True when it arrived after the decision's join window closed: kept, excluded from the joined value. */
  late: boolean;
  /** True when the decision was never activated when the reward arrived: kept for audit, never joined. */
  ignored: boolean;
}

export interface DecisionWithRewards {
  decision: DecisionRecord;
  rewards: StoredReward[];
}

/**
 * The record with every distribution as a plain array (stores that keep records as objects, and anything that
 * prints one as JSON: a Float64Array would print as an object of indices). A record rank just made holds the
 * policy's Float64Arrays; this copies only the slots that do.
 */
export function withPlainDistributions(record: DecisionRecord): DecisionRecord {
  if (!record.slots.some((s) => s.probabilities instanceof Float64Array)) return record;
  const slots = record.slots.map((s) =>
    s.probabilities instanceof Float64Array ? { ...s, probabilities: Array.from(s.probabilities) } : s,
  );
  return { ...record, slots };
}
