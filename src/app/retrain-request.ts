import { toIso } from "../core/clock.js";
import { type SnapshotStore, SnapshotVersionConflict } from "../stream/snapshot-store.js";

/**
 * Retrain requests in scale-out (issue 13): an API node does not train the recommender itself (its model would
 * serve on that node only, and be replaced by the trainer duty's next model); it asks the trainer duty, which
 * holds the `trainer` lease on some worker. A request is the next version of the `trainer:requests` snapshot
 * name (a few bytes: when it was asked): versioned publication is already shared by every node, ordered, and
 * retained, so a request survives a trainer failover (the new holder compares the latest request with the one
 * its fenced state says it handled), and two nodes asking at once cannot lose one (the store refuses a version
 * that is not new; the loser asks again on the next). No new port, no queue of our own.
 */
export const RETRAIN_REQUESTS = "trainer:requests";

export interface RetrainRequest {
  /** The request's number (its snapshot version); the trainer records the last one it trained for. */
  request: number;
  requestedAt: string;
}

/** Publishes a retrain request; resolves its number. Retries a lost race with another node a few times. */
export async function requestRetrain(snapshots: SnapshotStore, now: number): Promise<RetrainRequest> {
  const bytes = new TextEncoder().encode(JSON.stringify({ requestedAt: now }));
  for (let attempt = 0; ; attempt++) {
    const request = ((await snapshots.latest(RETRAIN_REQUESTS))?.version ?? 0) + 1;
    try {
      await snapshots.publish(RETRAIN_REQUESTS, request, bytes, "full");
      return { request, requestedAt: toIso(now) };
    } catch (error) {
      if (!(error instanceof SnapshotVersionConflict) || attempt >= 4) throw error;
    }
  }
}
