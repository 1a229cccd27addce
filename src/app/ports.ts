import type { Policy } from "../bandit/policy.js";
import type { UserEvent } from "../core/types.js";

/**
 * What the use-cases need from the feature store, the recommender, the policy registry and the rollout
 * controller, stated narrowly so each can be swapped (and absent parts have a clear fallback).
 */
export interface CandidateGenerator {
  /** The model serving now, or undefined before any is trained. One call sees one model. */
  current():
    | {
        version: string;
        recommend(
          sessionItems: readonly string[],
          k: number,
          options?: { exclude?: ReadonlySet<string>; isAvailable?: (id: string) => boolean; sessionKey?: string },
        ): { items: { id: string; score: number }[]; fallback?: string };
        /** `sessionKey` lets the model extend its cached state for the session instead of recomputing it. */
        score?(
          sessionItems: readonly string[],
          candidates: readonly string[],
          options?: { sessionKey?: string },
        ): Float64Array;
      }
    | undefined;
}

export interface PolicyProvider {
  get(id: string): Policy | undefined;
}

export interface RolloutAssignment {
  rolloutId: string;
  stage: number;
  arm: "candidate" | "incumbent";
  policyId: string;
}

export interface RolloutRouter {
  /** The rollout arm serving this user now, if a rollout is running. */
  route(userId: string, now: number): RolloutAssignment | undefined;
  onDecision(d: {
    rolloutId: string;
    arm: "candidate" | "incumbent";
    userId: string;
    sessionId?: string;
    timestamp: number;
    decisionId?: string;
  }): void;
  onEvent(event: UserEvent): void;
}
