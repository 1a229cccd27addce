import type { DecisionWithRewards, StoredReward } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";

/**
 * The reward join, computed from a decision and its stored rewards at time `now` (pure, so every reader:
 * learning, OPE, rollout statistics, export, agrees on one definition).
 *
 * - The window opens at activation (creation time unless activation was deferred) and lasts `windowMs`.
 * - Rewards flagged late (arrived after the window) or ignored (decision not active yet) never count.
 * - `earliest` takes the first counted reward by timestamp; `sum` adds them all.
 * - A reward names the slot by `itemId`; without one it is about slot 0 (the decision as a whole).
 * - No counted reward and the window closed: `defaulted` with the configured default reward.
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
  const start = decision.activated ? (decision.activatedAt ?? decision.timestamp) : undefined;
  const windowClosesAt = start === undefined ? undefined : start + config.windowMs;
  const counted = rewards.filter((r) => !r.late && !r.ignored).sort(byTimestamp);
  const slots = decision.slots.map((slot): SlotOutcome => {
    const mine = counted.filter((r) => (r.itemId === undefined ? slot.position === 0 : r.itemId === slot.itemId));
    const base = { position: slot.position, itemId: slot.itemId, rewardCount: mine.length };
    if (windowClosesAt === undefined) return { ...base, status: "not_activated", reward: undefined };
    if (mine.length > 0) return { ...base, status: "joined", reward: aggregate(mine, config.aggregation) };
    if (now >= windowClosesAt) return { ...base, status: "defaulted", reward: config.defaultReward };
    return { ...base, status: "pending", reward: undefined };
  });
  const resolved = slots.every((s) => s.reward !== undefined);
  return {
    decisionId: decision.decisionId,
    status: overallStatus(slots),
    slots,
    total: resolved ? slots.reduce((acc, s) => acc + (s.reward ?? 0), 0) : undefined,
    lateRewards: rewards.filter((r) => r.late).length,
    windowClosesAt,
  };
}

function aggregate(rewards: StoredReward[], how: JoinConfig["aggregation"]): number {
  if (how === "earliest") return (rewards[0] as StoredReward).value;
  return rewards.reduce((acc, r) => acc + r.value, 0);
}

function byTimestamp(a: StoredReward, b: StoredReward): number {
  return a.timestamp - b.timestamp;
}

function overallStatus(slots: SlotOutcome[]): JoinStatus {
  if (slots.length === 0) return "defaulted";
  if (slots.some((s) => s.status === "not_activated")) return "not_activated";
  if (slots.some((s) => s.status === "joined")) return "joined";
  if (slots.some((s) => s.status === "pending")) return "pending";
  return "defaulted";
}

/**
 * Classifies a reward at arrival: late when it happened after the window closed, ignored when the decision
 * is not active. Stores call this so every adapter flags rewards the same way.
 */
export function classifyReward(
  decision: { activated: boolean; activatedAt?: number; timestamp: number },
  rewardTimestamp: number,
  windowMs: number,
): { late: boolean; ignored: boolean } {
  if (!decision.activated) return { late: false, ignored: true };
  const start = decision.activatedAt ?? decision.timestamp;
  return { late: rewardTimestamp > start + windowMs, ignored: false };
}
