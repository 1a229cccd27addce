import type { UserEvent } from "../../src/core/types.js";
import { generateEvents } from "../../src/features/feature-test-events.js";

/**
 * The stream the HTTP feature benchmark preloads (server-child.ts `features` mode) and requests users of
 * (features.bench.ts): deterministic, so both processes derive the same user ids without passing them.
 */
export const FEATURE_HTTP_USERS = 30_000;
export const FEATURE_HTTP_EVENTS = 90_000;

export function featureBenchStream(): { events: UserEvent[]; end: number; userIds: string[] } {
  const events = generateEvents({
    users: FEATURE_HTTP_USERS,
    events: FEATURE_HTTP_EVENTS,
    start: Date.UTC(2026, 2, 2, 8),
    seed: 43,
    items: 50_000,
    categories: 500,
  });
  let end = 0;
  for (const e of events) end = Math.max(end, e.timestamp);
  return { events, end, userIds: [...new Set(events.map((e) => e.userId))] };
}
