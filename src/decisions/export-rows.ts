import { toIso } from "../core/clock.js";
import type { DecisionWithRewards } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";
import { joinRewards } from "./reward-join.js";

/**
 * One row per shown slot: the flat, columnar view of the decision log that offline tools (pandas,
 * DuckDB, Open Bandit Pipeline) load directly. Nested parts stay JSON strings.
 */
export interface SlotRow {
  decision_id: string;
  timestamp: number;
  user_id: string;
  session_id: string;
  policy_id: string;
  policy_type: string;
  policy_version: number;
  position: number;
  item_id: string;
  action_index: number;
  n_candidates: number;
  propensity: number;
  reward: number;
  join_status: string;
  activated: boolean;
  candidate_source: string;
  rollout_id: string;
  rollout_arm: string;
  context_json: string;
  features_json: string;
  candidates_json: string;
  probabilities_json: string;
}

export function slotRows(entry: DecisionWithRewards, join: JoinConfig, now: number): SlotRow[] {
  const d = entry.decision;
  const joined = joinRewards(entry, join, now);
  const shared = {
    context_json: JSON.stringify(d.context),
    features_json: JSON.stringify(d.features),
    candidates_json: JSON.stringify(d.candidates),
  };
  return d.slots.map((slot, i) => ({
    decision_id: d.decisionId,
    timestamp: d.timestamp,
    user_id: d.userId,
    session_id: d.sessionId ?? "",
    policy_id: d.policy.id,
    policy_type: d.policy.type,
    policy_version: d.policy.version,
    position: slot.position,
    item_id: slot.itemId,
    action_index: slot.index,
    n_candidates: d.candidates.length,
    propensity: slot.propensity,
    reward: joined.slots[i]?.reward ?? Number.NaN, // NaN: pending or never activated
    join_status: joined.slots[i]?.status ?? "pending",
    activated: d.activated,
    candidate_source: d.candidateSource,
    rollout_id: d.rollout?.id ?? "",
    rollout_arm: d.rollout?.arm ?? "",
    ...shared,
    probabilities_json: JSON.stringify(slot.probabilities),
  }));
}

/**
 * One decision as a JSON-lines record (`loopwise log export --format jsonl`): the logged decision, its stored
 * rewards and the join at `now`, with every time as ISO-8601 as the API returns them (API conventions), never
 * epoch milliseconds beside ISO strings in one record.
 */
export function decisionJsonRecord(entry: DecisionWithRewards, join: JoinConfig, now: number): Record<string, unknown> {
  const joined = joinRewards(entry, join, now);
  const d = entry.decision;
  return {
    ...d,
    timestamp: toIso(d.timestamp),
    ...(d.activatedAt !== undefined ? { activatedAt: toIso(d.activatedAt) } : {}),
    rewards: entry.rewards.map((r) => ({ ...r, timestamp: toIso(r.timestamp), receivedAt: toIso(r.receivedAt) })),
    join: { ...joined, windowClosesAt: joined.windowClosesAt === undefined ? null : toIso(joined.windowClosesAt) },
  };
}
