import type { DecisionWithRewards, StoredReward } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";
import { applyReward, byArrival, closeWindow, openWindow } from "./reward-reducer.js";

export { classifyReward } from "./reward-reducer.js";

/**
 * The reward join of one logged decision at time `now`: the stored rewards replayed through the reducer of
 * reward-reducer.ts (its header states the semantics), so every reader (learning, OPE, rollout statistics,
 * export, the dashboard) agrees with what online learning did.
 *
 * Rewards flagged late or ignored when they arrived never count; the others are applied in arrival order
 * (`receivedAt`, ties in log order). A slot is `joined` once a counted reward exists (for `sum`, its value is
 * the running total while the window is open), `defaulted` with the default reward when its window closed
 * with none, `pending` before that, `not_activated` when the decision never was.
 */
export type JoinStatus = "joined" | "defaulted" | "pending" | "not_activated";

export interface SlotOutcome {
  position: number;
  itemId: string;
  status: JoinStatus;
  /** Undefined while pending or when never activated. */
  reward: number | undefined;
  rewardCount: number;
}

export interface JoinedDecision {
  decisionId: string;
  status: JoinStatus;
  /** Slot-level outcomes, aligned with the decision's slots. */
  slots: SlotOutcome[];
  /** Sum of slot rewards (undefined unless every slot is resolved). */
  total: number | undefined;
  lateRewards: number;
  windowClosesAt: number | undefined;
}

export function joinRewards(entry: DecisionWithRewards, config: JoinConfig, now: number): JoinedDecision {
  const { decision, rewards } = entry;
  const base = {
    decisionId: decision.decisionId,
    lateRewards: rewards.filter((r) => r.late).length,
  };
  if (!decision.activated) {
    const slots = decision.slots.map(
      (s): SlotOutcome => ({
        position: s.position,
        itemId: s.itemId,
        status: "not_activated",
        reward: undefined,
        rewardCount: 0,
      }),
    );
    return { ...base, status: overallStatus(slots), slots, total: undefined, windowClosesAt: undefined };
  }
  const state = openWindow(decision.slots, decision.activatedAt ?? decision.timestamp, config);
  for (const r of countedInArrivalOrder(rewards)) applyReward(state, r, config, true);
  closeWindow(state, now, config);
  const slots = state.slots.map((slot): SlotOutcome => {
    const outcome = { position: slot.position, itemId: slot.itemId, rewardCount: slot.count };
    if (slot.count > 0) return { ...outcome, status: "joined", reward: slot.value };
    if (state.closed) return { ...outcome, status: "defaulted", reward: config.defaultReward };
    return { ...outcome, status: "pending", reward: undefined };
  });
  const resolved = slots.every((s) => s.reward !== undefined);
  return {
    ...base,
    status: overallStatus(slots),
    slots,
    total: resolved ? slots.reduce((acc, s) => acc + (s.reward ?? 0), 0) : undefined,
    windowClosesAt: state.closesAt,
  };
}

/** The rewards that counted when they arrived, in arrival order (stable: ties keep the log's order). */
export function countedInArrivalOrder(rewards: readonly StoredReward[]): StoredReward[] {
  return rewards.filter((r) => !r.late && !r.ignored).sort(byArrival);
}

function overallStatus(slots: SlotOutcome[]): JoinStatus {
  if (slots.length === 0) return "defaulted";
  if (slots.some((s) => s.status === "not_activated")) return "not_activated";
  if (slots.some((s) => s.status === "joined")) return "joined";
  if (slots.some((s) => s.status === "pending")) return "pending";
  return "defaulted";
}
