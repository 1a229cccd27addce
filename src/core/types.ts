/** Domain types shared by every stage of the loop. Times are epoch milliseconds inside the engine. */

/** A feature value as it arrives from the outside world: numbers, strings (categorical) and flags. */
export type FeatureValue = number | string | boolean;
export type FeatureMap = Record<string, FeatureValue>;

/** Built-in event types; any other lowercase name is a custom event type. */
export const BUILTIN_EVENT_TYPES = ["view", "click", "add_to_cart", "purchase"] as const;
export type BuiltinEventType = (typeof BUILTIN_EVENT_TYPES)[number];

export interface UserEvent {
  /** Idempotency key. Generated from content when the client sends none. */
  eventId: string;
  type: string;
  userId: string;
  sessionId?: string;
  itemId?: string;
  category?: string;
  price?: number;
  /** Monetary or numeric value (a purchase's revenue). */
  value?: number;
  /** When it happened (client time), epoch ms. */
  timestamp: number;
  /** The decision this event answers (a click on a recommended item). */
  decisionId?: string;
  context?: FeatureMap;
}

export interface Item {
  id: string;
  category?: string;
  price?: number;
  features?: FeatureMap;
  available: boolean;
  updatedAt: number;
}

/** An action offered to a policy: an item id with its action-dependent features. */
export interface Candidate {
  id: string;
  features?: FeatureMap;
  /** The recommender's score, when candidates came from it (an input feature for the bandit). */
  score?: number;
}
