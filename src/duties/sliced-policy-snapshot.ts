import { setImmediate as nextTurn } from "node:timers/promises";
import type { BasePolicy, PolicySnapshot } from "../bandit/base-policy.js";
import { copyOneTurn } from "../bandit/policy-registry.js";
import { restorePolicyInSlices } from "../bandit/policy-types.js";

/**
 * `policy.snapshot()` as of this call, its arms copied up to `ARMS_PER_TURN` or 2 ms per event-loop turn
 * (bandit/policy-registry.ts `copyOneTurn`; bandit/sliced-snapshot.ts:
 * copy on write, so an update landing meanwhile is not in it), as the registry's periodic save takes it. Why here
 * too: the learner duty snapshots the policy for a full checkpoint, a full publish and its PolicyStore save; at the
 * default policy's 2,000 arms `snapshot()` copies ~35 MB in one go (30-90 ms of a worker's loop, which renews
 * its leases between turns).
 */
export async function snapshotInSlices(policy: BasePolicy): Promise<PolicySnapshot> {
  const copy = policy.snapshotInSlices();
  const now = () => performance.now();
  while (!copyOneTurn(copy, now)) await nextTurn();
  return copy.result();
}

/**
 * `restorePolicy(snapshot)` in the same turns (up to `ARMS_PER_TURN` arms or 2 ms each), starting on a turn of its
 * own (not the one that received or decoded the snapshot: the policy's creation is a long step too). Why: at the
 * default policy's 2,000 arms `restorePolicy` is 100-120 ms in one turn, on an API node that joins (app/
 * policy-follower.ts) and on a worker whose learner takes over a lease or picks up a re-registration
 * (learner-duty.ts). The policy is only returned whole; `snapshot` must not change until then.
 */
export function restoreInTurns(snapshot: unknown): Promise<BasePolicy>;
/** The same, given up (undefined) at the first turn where `abandoned()` (an API node's follower that closed). */
export function restoreInTurns(snapshot: unknown, abandoned: () => boolean): Promise<BasePolicy | undefined>;
export async function restoreInTurns(
  snapshot: unknown,
  abandoned: () => boolean = () => false,
): Promise<BasePolicy | undefined> {
  await nextTurn();
  if (abandoned()) return undefined;
  const restore = restorePolicyInSlices(snapshot);
  const now = () => performance.now();
  await nextTurn();
  while (!copyOneTurn(restore, now)) {
    await nextTurn();
    if (abandoned()) return undefined; // the rest of the rebuild would serve nobody
  }
  return restore.result();
}
