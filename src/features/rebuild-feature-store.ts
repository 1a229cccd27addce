import type { EventLog } from "../events/event-log.js";
import type { FeatureStore } from "./feature-store.js";
import type { FeaturesConfig } from "./features-config.js";

export interface RebuildOptions {
  /** How far back to replay; default `defaultRebuildLookback(config)`. */
  lookbackMs?: number;
  batchSize?: number;
}

/**
 * The span replayed after a restart: the window T, the session gap twice (so a session still open at `now`
 * gets back its start and counters, unless it began more than that ago), and the longest custom duration.
 * Lifetime values (events_total, sessions_total, secs_since_last_*, "lifetime" customs) only see the
 * replayed span; pass a longer `lookbackMs` (up to idleTtl) to recover more of them.
 */
export function defaultRebuildLookback(config: FeaturesConfig): number {
  let span = Math.max(config.windowDuration, 2 * config.sessionGap);
  for (const c of config.custom) if (typeof c.window === "number") span = Math.max(span, c.window);
  return span;
}

/**
 * Rebuilds windows from the durable event log before traffic is served: clears the store, then applies the
 * log's events from `now - lookback` in timestamp order (the log's scan order). Returns how many events
 * were replayed.
 */
export async function rebuildFeatureStore(
  store: FeatureStore,
  eventLog: EventLog,
  now: number,
  options: RebuildOptions = {},
): Promise<{ events: number; from: number }> {
  const from = now - (options.lookbackMs ?? defaultRebuildLookback(store.config));
  await store.clear();
  let events = 0;
  for await (const batch of eventLog.scan({ from, batchSize: options.batchSize ?? 5000 })) {
    await store.apply(batch);
    events += batch.length;
  }
  return { events, from };
}
