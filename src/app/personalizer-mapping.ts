import { z } from "zod";
import type { FieldError } from "../core/errors.js";
import { validationError } from "../core/errors.js";
import type { FeatureMap } from "../core/types.js";
import { toFieldErrors } from "../core/validate.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { idSchema, itemIdSchema } from "../events/event-schema.js";
import { personalizerDaysOfRetention } from "./log-retention-config.js";
import { flattenFeatures } from "./personalizer-features.js";
import type { rankRequestSchema } from "./rank.js";

/**
 * Azure Personalizer's REST API (v1.0, and the multi-slot routes of v1.1-preview.3), mapped onto
 * Loopwise's rank/reward/activate. Shapes from Azure/azure-rest-api-specs,
 * specification/cognitiveservices/data-plane/Personalizer/{stable/v1.0,preview/v1.1-preview.3}/Personalizer.json.
 * Pure: the use-cases in personalizer.ts call the engine. Unknown fields are ignored, as Personalizer does.
 */

const featureList = z.array(z.unknown()).optional();
/** Action ids become item ids: Loopwise's item id rule (inner spaces allowed, as in Personalizer's "ice cream"). */
const actionId = itemIdSchema;

export const personalizerRankSchema = z.object({
  contextFeatures: featureList,
  actions: z.array(z.object({ id: actionId, features: featureList })).min(1, "must hold at least one action"),
  excludedActions: z.array(z.string()).optional(),
  eventId: idSchema.optional(),
  deferActivation: z.boolean().optional(),
});

export const personalizerRewardSchema = z.object({ value: z.number().finite() });

export const personalizerSlotSchema = z.object({
  id: z.string().min(1).max(256),
  features: featureList,
  excludedActions: z.array(z.string()).optional(),
  baselineAction: z.string().min(1).max(256),
});

export const personalizerMultiSlotRankSchema = z.object({
  contextFeatures: featureList,
  actions: z.array(z.object({ id: actionId, features: featureList })).min(1, "must hold at least one action"),
  slots: z.array(personalizerSlotSchema).min(1, "must hold at least one slot").max(50, "at most 50 slots"),
  eventId: idSchema.optional(),
  deferActivation: z.boolean().optional(),
});

export const personalizerMultiSlotRewardSchema = z.object({
  reward: z.array(z.object({ slotId: z.string().min(1).max(256), value: z.number().finite() })),
});

export type PersonalizerRankRequest = z.infer<typeof personalizerRankSchema>;
export type PersonalizerMultiSlotRankRequest = z.infer<typeof personalizerMultiSlotRankSchema>;
type LoopwiseRank = z.input<typeof rankRequestSchema>;

/** Parses a Personalizer body; a bad one throws VALIDATION_FAILED naming the field as the client sent it. */
export function parsePersonalizer<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationError(toFieldErrors(parsed.error.issues));
  return parsed.data;
}

type Action = PersonalizerRankRequest["actions"][number];

function flattenOrThrow(input: unknown, path: string, errors: FieldError[]): FeatureMap {
  const flat = flattenFeatures(input, path);
  errors.push(...flat.errors);
  return flat.features;
}

function candidatesOf(actions: Action[], errors: FieldError[]): { id: string; features?: FeatureMap }[] {
  const seen = new Set<string>();
  return actions.map((a, i) => {
    if (seen.has(a.id)) errors.push({ path: `actions[${i}].id`, message: `duplicates an earlier action id "${a.id}"` });
    seen.add(a.id);
    const features = flattenOrThrow(a.features, `actions[${i}].features`, errors);
    return Object.keys(features).length > 0 ? { id: a.id, features } : { id: a.id };
  });
}

/**
 * A Personalizer rank is a one-slot Loopwise decision: only `rewardActionId` is shown, so only it may
 * earn a reward (ranking more slots would teach the policy default rewards for actions never shown).
 * The eventId is the decision id and the unit of rollout bucketing (Personalizer has no user id).
 */
export function toLoopwiseRank(req: PersonalizerRankRequest, eventId: string): LoopwiseRank {
  const errors: FieldError[] = [];
  const context = flattenOrThrow(req.contextFeatures, "contextFeatures", errors);
  const candidates = candidatesOf(req.actions, errors);
  if (errors.length > 0) throw validationError(errors);
  const rank: LoopwiseRank = { userId: eventId, decisionId: eventId, context, candidates, slots: 1 };
  if (req.excludedActions && req.excludedActions.length > 0) rank.exclude = req.excludedActions;
  if (req.deferActivation) rank.deferActivation = true;
  return rank;
}

export interface PersonalizerRankResponse {
  ranking: { id: string; probability: number }[];
  eventId: string;
  rewardActionId: string;
}

/**
 * Every action with its probability of having been the one chosen (slot 0's distribution, which sums
 * to 1): the chosen action first with its exact logged propensity, then the others by probability,
 * then the excluded ones with probability 0 (Personalizer lists them too).
 */
export function toPersonalizerRanking(record: DecisionRecord, actions: Action[]): PersonalizerRankResponse {
  const slot = record.slots[0];
  if (!slot) throw new Error(`decision ${record.decisionId} has no slot`);
  const probability = new Map<string, number>();
  for (const [i, c] of record.candidates.entries()) probability.set(c.id, slot.probabilities[i] ?? 0);
  const order = new Map(actions.map((a, i) => [a.id, i]));
  const others = record.candidates
    .filter((c) => c.id !== slot.itemId)
    .map((c) => ({ id: c.id, probability: probability.get(c.id) ?? 0 }))
    .sort((a, b) => b.probability - a.probability || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  const excluded = actions.filter((a) => !probability.has(a.id)).map((a) => ({ id: a.id, probability: 0 }));
  return {
    ranking: [{ id: slot.itemId, probability: slot.propensity }, ...others, ...excluded],
    eventId: record.decisionId,
    rewardActionId: slot.itemId,
  };
}

/** The decision id of a multi-slot event's n-th logged slot decision. */
export function slotDecisionId(eventId: string, n: number): string {
  return `${eventId}:${n}`;
}

/** The context feature naming the slot a multi-slot decision filled (slot features are `slot.*`). */
export const SLOT_ID_FEATURE = "slot.id";

/**
 * Multi-slot rank as Personalizer/VW do it (conditional contextual bandits): one decision per slot, in
 * order, each excluding the actions earlier slots took and the slot's own exclusions, with the slot's
 * id and features in its context. Each logged propensity is the exact probability of that slot's
 * action given the earlier slots. The slot's baseline action is its first candidate (the log's baseline).
 */
export function slotRanks(
  req: PersonalizerMultiSlotRankRequest,
  eventId: string,
): { slotId: string; rank: (taken: string[], n: number) => LoopwiseRank }[] {
  const errors: FieldError[] = [];
  const context = flattenOrThrow(req.contextFeatures, "contextFeatures", errors);
  const candidates = candidatesOf(req.actions, errors);
  const ids = new Set(req.actions.map((a) => a.id));
  const seen = new Set<string>();
  const slots = req.slots.map((slot, i) => {
    if (!ids.has(slot.baselineAction))
      errors.push({ path: `slots[${i}].baselineAction`, message: `"${slot.baselineAction}" is not an action id` });
    if (seen.has(slot.id)) errors.push({ path: `slots[${i}].id`, message: `duplicates slot id "${slot.id}"` });
    seen.add(slot.id);
    const slotFeatures = flattenOrThrow(slot.features, `slots[${i}].features`, errors);
    return { slot, slotFeatures };
  });
  if (errors.length > 0) throw validationError(errors);
  return slots.map(({ slot, slotFeatures }) => ({
    slotId: slot.id,
    rank: (taken, n) => {
      const slotContext: FeatureMap = { ...context, [SLOT_ID_FEATURE]: slot.id };
      for (const [k, v] of Object.entries(slotFeatures)) slotContext[`slot.${k}`] = v;
      const baseline = candidates.filter((c) => c.id === slot.baselineAction);
      const rest = candidates.filter((c) => c.id !== slot.baselineAction);
      const rank: LoopwiseRank = {
        userId: eventId,
        decisionId: slotDecisionId(eventId, n),
        context: slotContext,
        candidates: [...baseline, ...rest],
        slots: 1,
        exclude: [...taken, ...(slot.excludedActions ?? [])],
      };
      if (req.deferActivation) rank.deferActivation = true;
      return rank;
    },
  }));
}

/** Loopwise field names and the Personalizer fields they came from. */
const PERSONALIZER_FIELDS: Readonly<Record<string, string>> = {
  candidates: "actions",
  exclude: "excludedActions",
  decisionId: "eventId",
  userId: "eventId",
  rewardId: "(header) idempotency-key",
  context: "contextFeatures",
};

/**
 * A Loopwise error path renamed to the Personalizer field it came from. Only a whole first segment is renamed:
 * paths the Personalizer mapping wrote itself (`contextFeatures[1].user`, `excludedActions`) are already the
 * client's and stay as they are (a prefix match made `contextFeatures` into `contextFeaturesFeatures`).
 */
export function personalizerPath(path: string): string {
  const end = path.search(/[.[]/);
  const head = end < 0 ? path : path.slice(0, end);
  const renamed = Object.hasOwn(PERSONALIZER_FIELDS, head) ? PERSONALIZER_FIELDS[head] : undefined;
  return renamed === undefined ? path : renamed + path.slice(head.length);
}

export interface ServiceSettings {
  rewardWindowMs: number;
  defaultReward: number;
  aggregation: "earliest" | "sum";
  /** `log.retention` (undefined: kept forever, reported as -1 days). */
  logRetentionMs?: number;
  defaultPolicy?: { type: string; params: Record<string, unknown> };
}

/**
 * `GET /configurations/service` from Loopwise's settings. Personalizer's explorationPercentage is
 * epsilon-greedy's ε; Loopwise's default (Thompson sampling) explores by posterior sampling at no fixed
 * rate, so the field says the ε of an epsilon-greedy default and 0 otherwise (the migration doc says so).
 * Loopwise learns on every reward (modelExportFrequency 0); logRetentionDays is `log.retention` in whole days,
 * -1 when the log is kept forever (the default; app/log-retention-config.ts maps it back).
 */
export function serviceConfiguration(settings: ServiceSettings, durationStyle: "timespan" | "iso") {
  const duration = durationStyle === "iso" ? isoDuration : timeSpan;
  const policy = settings.defaultPolicy;
  const epsilon = policy?.type === "epsilon-greedy" ? Number(policy.params.epsilon ?? 0) : 0;
  return {
    rewardWaitTime: duration(settings.rewardWindowMs),
    defaultReward: settings.defaultReward,
    rewardAggregation: settings.aggregation,
    explorationPercentage: epsilon,
    modelExportFrequency: duration(0),
    logMirrorEnabled: false,
    logRetentionDays: personalizerDaysOfRetention(settings.logRetentionMs),
    learningMode: "Online",
    isAutoOptimizationEnabled: false,
  };
}

/** .NET TimeSpan text ("00:10:00", "1.00:00:00"), as Personalizer v1.0 answers. */
export function timeSpan(ms: number): string {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86_400);
  const pad = (n: number) => String(n).padStart(2, "0");
  const clock = `${pad(Math.floor((s % 86_400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return days > 0 ? `${days}.${clock}` : clock;
}

/** ISO-8601 duration ("PT10M", "P1DT2H"), as Personalizer v1.1 answers. */
export function isoDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const time = `${h ? `${h}H` : ""}${m ? `${m}M` : ""}${sec ? `${sec}S` : ""}`;
  if (days === 0 && time === "") return "PT0S";
  return `P${days ? `${days}D` : ""}${time ? `T${time}` : ""}`;
}
