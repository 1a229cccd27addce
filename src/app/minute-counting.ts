import type { DecisionRecord, RewardOutcome, RewardRecord } from "../decisions/decision-record.js";
import { slotOfReward } from "../decisions/reward-reducer.js";

/**
 * Whether a reward adds to the dashboard's sums, by the one reward join's rules (decisions/reward-reducer.ts):
 * only accepted rewards (activated, in window, not a duplicate: the store's verdict), in the slot `slotOfReward`
 * names (its item, or none: position 0), and with `earliest` only a slot's first. Records the slot in
 * `rewarded`. Undefined when it does not count; otherwise whether it is the decision's first counted reward.
 * The per-minute fold and the live activity panel (dashboard/activity.ts) both ask this.
 */
export function countedReward(
  slotItems: readonly string[],
  rewarded: Set<number>,
  reward: Pick<RewardRecord, "itemId">,
  outcome: RewardOutcome | undefined,
  aggregation: "earliest" | "sum",
): { firstForDecision: boolean } | undefined {
  if (outcome !== "accepted") return undefined;
  const slot = slotOfReward(
    slotItems.map((itemId, position) => ({ itemId, position })),
    reward.itemId,
  );
  if (slot < 0) return undefined; // names no shown slot: the join ignores it too
  if (rewarded.has(slot) && aggregation === "earliest") return undefined;
  const firstForDecision = rewarded.size === 0;
  rewarded.add(slot);
  return { firstForDecision };
}

/** The series a decision counts in: its policy, and its rollout arm when a rollout routed it. */
export function seriesOf(record: Pick<DecisionRecord, "policy" | "rollout">): string[] {
  const out = [`policy:${record.policy.id}`];
  if (record.rollout) out.push(`rollout:${record.rollout.id}:${record.rollout.arm}`);
  return out;
}
