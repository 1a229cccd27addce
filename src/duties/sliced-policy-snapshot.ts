import { setImmediate as nextTurn } from "node:timers/promises";
import type { BasePolicy, PolicySnapshot } from "../bandit/base-policy.js";
import { copyOneTurn } from "../bandit/policy-registry.js";

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
