import type { UserEvent } from "../core/types.js";

/**
 * The event log port: every accepted event, durable once `append` resolves. The feature store rebuilds
 * its windows from it after a restart and the recommender trains from it.
 */
export interface EventLog {
  /**
   * Appends events not seen before (by eventId). Resolves, once durable, with which were new. How long an id is
   * remembered is the store's: SQLite the last `ingest.dedupWindow` ids written (a bounded window in memory),
   * PostgreSQL every id forever across nodes, the in-memory store every id it holds.
   */
  append(events: readonly UserEvent[]): Promise<{ inserted: UserEvent[]; duplicates: string[] }>;
  /**
   * Events with timestamp >= from (and < to), in timestamp order, streamed in batches. `userId` filters the
   * time range (for tools and tests): no serving path reads events by user, so the stores keep no index for
   * it (SQLite migration 5).
   */
  scan(options?: { from?: number; to?: number; userId?: string; batchSize?: number }): AsyncIterable<UserEvent[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}
