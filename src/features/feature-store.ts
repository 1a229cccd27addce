import type { FeatureMap, UserEvent } from "../core/types.js";
import type { FeaturesConfig } from "./features-config.js";

/**
 * The feature store port (issue 3). The app applies validated, deduplicated events and reads a user's
 * features on the rank path. Adapters: `storage/memory/feature-store-memory.ts` (default, in process) and
 * `storage/redis/feature-store-redis.ts` (shared by many API processes). Both store the same state
 * primitives (see `feature-writes.ts`) and compute features with the same pure `computeFeatures`, so they
 * answer identically on the same event stream (checked by `feature-store.contract.ts`).
 */
export interface FeatureStore {
  /** The parsed config the store computes with (rebuild derives its replay span from it). */
  readonly config: FeaturesConfig;
  /**
   * True when apply() skips an event whose id it has already applied (Redis: for at least the window's
   * duration after it arrived, see `storage/redis/feature-lua.ts`). The ingest then also applies the events
   * the log answered as duplicates, which closes the window where a node committed an event to the log and
   * crashed before applying it (issue 13): the client's retry, on any node, completes it, and a retry of an
   * event that was applied counts nothing. Absent: the caller must pass each event once (the memory store of
   * one process: a crash loses it and it is rebuilt from the log).
   */
  readonly appliesOnce?: true;
  /** Apply events in order. Once resolved, read() for those users sees them (read-your-writes). */
  apply(events: readonly UserEvent[]): Promise<void>;
  /** The user's current features at `now` (an unknown user gets defaults with known=false). */
  read(userId: string, now: number): Promise<UserFeatures>;
  /** Drop all state (used before a rebuild). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface UserFeatures {
  userId: string;
  known: boolean;
  sessionId?: string;
  /** Flat, named aggregates; names are stable and documented in `compute-features.ts`. */
  aggregates: FeatureMap;
  /** Item ids of the current session in time order, oldest first (the recommender's input). */
  sessionItems: string[];
}
