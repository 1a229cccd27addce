import { isLoopwiseError, LoopwiseError } from "../core/errors.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import {
  type PersonalizerRankResponse,
  parsePersonalizer,
  personalizerMultiSlotRankSchema,
  personalizerMultiSlotRewardSchema,
  personalizerRankSchema,
  personalizerRewardSchema,
  SLOT_ID_FEATURE,
  slotDecisionId,
  slotRanks,
  toLoopwiseRank,
  toPersonalizerRanking,
} from "./personalizer-mapping.js";
import type { ActivateResult, RewardResult } from "./reward.js";

/** What the Personalizer use-cases need of the engine: its own rank, reward and activate, and the log. */
export interface PersonalizerPorts {
  /** The rank use-case, answering the logged decision (app/rank.ts `rankDecision`). */
  rank(body: unknown): Promise<DecisionRecord>;
  reward(decisionId: string, body: unknown): Promise<RewardResult>;
  activate(decisionId: string): Promise<ActivateResult>;
  decision(decisionId: string): Promise<DecisionRecord | undefined>;
  newEventId(): string;
}

/**
 * What happened to a reward or activation. Personalizer answers 204 to a reward or activation for an
 * eventId it does not know (rewards are joined later, out of band), and its clients rely on that, so
 * these routes do too and say `unknown_event` in the `loopwise-status` header instead.
 */
export type EventOutcome = RewardResult["status"] | "activated" | "unknown_event";

/** `POST /personalizer/v1.0/rank`. */
export async function personalizerRank(ports: PersonalizerPorts, body: unknown): Promise<PersonalizerRankResponse> {
  const req = parsePersonalizer(personalizerRankSchema, body);
  const eventId = req.eventId ?? ports.newEventId();
  try {
    const record = await ports.rank(toLoopwiseRank(req, eventId));
    return toPersonalizerRanking(record, req.actions);
  } catch (error) {
    // Actions are always sent here, so none left means all excluded: in the client's own field names.
    if (!isLoopwiseError(error) || error.code !== "NO_CANDIDATES") throw error;
    throw new LoopwiseError("NO_CANDIDATES", `every action is in excludedActions (${req.actions.length} sent)`);
  }
}

/**
 * `POST /personalizer/v1.0/events/{eventId}/reward`: a reward for the event's rewardActionId (slot 0).
 * Personalizer counts every reward call (with `sum`, two calls of 1 make 2), so each call is its own
 * reward unless the client names it: `rewardKey` is the request's Idempotency-Key header, or a fresh id.
 */
export async function personalizerReward(
  ports: PersonalizerPorts,
  eventId: string,
  body: unknown,
  rewardKey: string,
): Promise<EventOutcome> {
  const { value } = parsePersonalizer(personalizerRewardSchema, body);
  return unknownAsOutcome(async () => (await ports.reward(eventId, { value, rewardId: rewardKey })).status);
}

/** `POST /personalizer/v1.0/events/{eventId}/activate`. */
export async function personalizerActivate(ports: PersonalizerPorts, eventId: string): Promise<EventOutcome> {
  return unknownAsOutcome(async () => {
    await ports.activate(eventId);
    return "activated";
  });
}

export interface MultiSlotRankResponse {
  slots: { id: string; rewardActionId?: string }[];
  eventId: string;
}

/**
 * `POST /personalizer/v1.0/multislot/rank`: one decision per slot, in slot order (personalizer-mapping.ts).
 * A slot left with no action (all taken or excluded) gets no rewardActionId, as Personalizer's schema
 * allows, and logs no decision; logged slot decisions are numbered without gaps so they can be found.
 */
export async function personalizerMultiSlotRank(
  ports: PersonalizerPorts,
  body: unknown,
): Promise<MultiSlotRankResponse> {
  const req = parsePersonalizer(personalizerMultiSlotRankSchema, body);
  const eventId = req.eventId ?? ports.newEventId();
  const taken: string[] = [];
  const slots: MultiSlotRankResponse["slots"] = [];
  for (const plan of slotRanks(req, eventId)) {
    try {
      const record = await ports.rank(plan.rank(taken, taken.length));
      const chosen = record.slots[0]?.itemId;
      if (chosen === undefined) throw new Error(`slot decision for ${plan.slotId} has no ranking`);
      taken.push(chosen);
      slots.push({ id: plan.slotId, rewardActionId: chosen });
    } catch (error) {
      if (!isLoopwiseError(error) || error.code !== "NO_CANDIDATES") throw error;
      slots.push({ id: plan.slotId });
    }
  }
  return { slots, eventId };
}

/** The logged slot decisions of a multi-slot event, in slot order. */
async function slotDecisions(ports: PersonalizerPorts, eventId: string): Promise<DecisionRecord[]> {
  const found: DecisionRecord[] = [];
  for (let n = 0; n < 50; n++) {
    const record = await ports.decision(slotDecisionId(eventId, n));
    if (!record) break;
    found.push(record);
  }
  return found;
}

/** `POST /personalizer/v1.0/multislot/events/{eventId}/reward`: `{reward: [{slotId, value}]}`. */
export async function personalizerMultiSlotReward(
  ports: PersonalizerPorts,
  eventId: string,
  body: unknown,
  rewardKey: string,
): Promise<EventOutcome[]> {
  const { reward } = parsePersonalizer(personalizerMultiSlotRewardSchema, body);
  const decisions = await slotDecisions(ports, eventId);
  const outcomes: EventOutcome[] = [];
  for (const [i, { slotId, value }] of reward.entries()) {
    const decision = decisions.find((d) => d.context[SLOT_ID_FEATURE] === slotId);
    if (!decision) outcomes.push("unknown_event");
    else outcomes.push((await ports.reward(decision.decisionId, { value, rewardId: `${rewardKey}:${i}` })).status);
  }
  return outcomes;
}

/** `POST /personalizer/v1.0/multislot/events/{eventId}/activate`: activates every slot's decision. */
export async function personalizerMultiSlotActivate(ports: PersonalizerPorts, eventId: string): Promise<EventOutcome> {
  const decisions = await slotDecisions(ports, eventId);
  for (const d of decisions) await ports.activate(d.decisionId);
  return decisions.length > 0 ? "activated" : "unknown_event";
}

async function unknownAsOutcome(run: () => Promise<EventOutcome>): Promise<EventOutcome> {
  try {
    return await run();
  } catch (error) {
    if (isLoopwiseError(error) && error.code === "DECISION_NOT_FOUND") return "unknown_event";
    throw error;
  }
}
