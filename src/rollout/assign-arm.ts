import { bucketOf } from "../core/hash.js";
import type { Arm, Rollout } from "./rollout-types.js";

/** The hash seed of a rollout: its own purpose prefix, so buckets are independent of exploration (Unleash). */
export function rolloutSeed(rollout: Pick<Rollout, "id" | "hashVersion">): string {
  return `rollout:${rollout.id}:v${rollout.hashVersion}`;
}

/**
 * Sticky, monotonic assignment (GrowthBook): a user's bucket in [0, 1) is fixed by the hash; the user is in
 * the candidate arm while bucket < share. Raising the share only adds users; a rollback (share 0) moves
 * everyone back to the incumbent at once; nothing is stored, so it survives restarts by construction.
 */
export function assignArm(
  rollout: Pick<Rollout, "id" | "hashVersion" | "candidateShare">,
  userId: string,
): { arm: Arm; bucket: number } {
  const bucket = bucketOf(rolloutSeed(rollout), userId);
  return { arm: bucket < rollout.candidateShare ? "candidate" : "incumbent", bucket };
}

/** A rollout's stage as a candidate percentage (0 before the first stage and after a rollback). */
export function stagePercent(r: Pick<Rollout, "candidateShare">): number {
  return Math.round(r.candidateShare * 1000) / 10;
}
