import { bucketOf } from "../core/hash.js";
import type { Arm, Rollout } from "./rollout-types.js";

/**
 * The hash seed of a rollout: its own purpose prefix, so buckets are independent of exploration (Unleash), and
 * its salt (the id unless one was given at creation).
 */
export function rolloutSeed(rollout: Pick<Rollout, "id" | "hashVersion" | "salt">): string {
  return `rollout:${rollout.salt ?? rollout.id}:v${rollout.hashVersion}`;
}

/**
 * Sticky, monotonic assignment (GrowthBook): a user's bucket in [0, 1) is fixed by the hash; the user is in
 * the candidate arm while bucket < share. Raising the share only adds users; a rollback (share 0) moves
 * everyone back to the incumbent at once; nothing is stored, so it survives restarts by construction.
 */
export function assignArm(
  rollout: Pick<Rollout, "id" | "hashVersion" | "salt" | "candidateShare">,
  userId: string,
): { arm: Arm; bucket: number } {
  const bucket = bucketOf(rolloutSeed(rollout), userId);
  return { arm: bucket < rollout.candidateShare ? "candidate" : "incumbent", bucket };
}

/** A rollout's stage as a candidate percentage (0 before the first stage and after a rollback). */
export function stagePercent(r: Pick<Rollout, "candidateShare">): number {
  return Math.round(r.candidateShare * 1000) / 10;
}

/** How rank should serve one user: which policy, and what to log as the decision's `rollout`. */
export interface RolloutRoute {
  rolloutId: string;
  /** Current stage as a candidate percentage (0 before the first stage or after a rollback). */
  stage: number;
  arm: Arm;
  policyId: string;
}

/**
 * The route of a user among `rollouts`: the newest accepted one that serves traffic (a stage in progress, or
 * completed and still routing), its arm for this user and that arm's policy. One rule for the embedded
 * controller and the API nodes' cached copy (app/rollout-follower.ts), so both route a user alike.
 */
export function routeAmong(
  rollouts: Iterable<Rollout>,
  userId: string,
  accept: (r: Rollout) => boolean = () => true,
): RolloutRoute | undefined {
  let best: Rollout | undefined;
  for (const rollout of rollouts) {
    if (rollout.stageIndex < 0 || rollout.candidateShare <= 0 || !accept(rollout)) continue;
    if (!best || rollout.createdAt > best.createdAt) best = rollout;
  }
  if (!best) return undefined;
  const { arm } = assignArm(best, userId);
  const policyId = arm === "candidate" ? best.candidate : best.incumbent;
  return { rolloutId: best.id, stage: stagePercent(best), arm, policyId };
}
