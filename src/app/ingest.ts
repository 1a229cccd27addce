import { z } from "zod";
import { type CompiledSchema, compileSchema } from "../core/compiled-schema.js";
import { type FieldError, validationError } from "../core/errors.js";
import { ownValue } from "../core/own.js";
import type { UserEvent } from "../core/types.js";
import { validateEvent, validateItem } from "../events/event-schema.js";
import type { EngineParts } from "./engine-parts.js";
import { applyEffects, applyFreshEffects, type Pending } from "./ingest-effects.js";
import { recordReward } from "./reward.js";

/**
 * What the ingest use-cases answer (their ports), plain data: per item (one bad item never drops the others) and
 * counts. The wire schemas are server/api-types.ts; server/api-types.test.ts checks at compile time that they agree.
 */
export interface ItemResult {
  index: number;
  /** The id the item or event carries (or was given). */
  id?: string;
  status: "accepted" | "duplicate" | "rejected";
  errors?: FieldError[];
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Rewards joined from events carrying a decisionId. */
  rewardsJoined: number;
  results: ItemResult[];
}

export interface UpsertItemsResult {
  accepted: number;
  rejected: number;
  results: ItemResult[];
}

const batchSchemas = new Map<string, CompiledSchema<Record<string, unknown[]>>>();

/** The batch envelope, compiled once per (size limit, key): the entries are validated one by one after. */
function batchSchema(max: number, key: "events" | "items"): CompiledSchema<Record<string, unknown[]>> {
  const cacheKey = `${key}:${max}`;
  let compiled = batchSchemas.get(cacheKey);
  if (!compiled) {
    const schema = z.strictObject({
      [key]: z.array(z.unknown()).min(1, "must hold at least one entry").max(max, `must hold at most ${max} entries`),
    });
    compiled = compileSchema(schema) as CompiledSchema<Record<string, unknown[]>>;
    batchSchemas.set(cacheKey, compiled);
  }
  return compiled;
}

/**
 * Ingests a batch: each event is validated on its own (one bad event never drops the others), the valid
 * ones are appended to the event log (durable, deduplicated by eventId), then applied to the feature
 * store (so the next rank sees them), then joined as rewards when they answer a decision. Events the log
 * already held are answered `duplicate`, and their effects are applied again where that is idempotent (a
 * feature store that `appliesOnce`, the reward join by reward id), so each effect happens exactly once even
 * when the first attempt's node died after the log commit (issue 13).
 */
export async function ingestEvents(parts: EngineParts, body: unknown): Promise<IngestResult> {
  const { events: raw } = batchSchema(parts.config.ingest.maxBatch, "events").parse(body) as { events: unknown[] };
  const now = parts.clock.now();
  const bounds = { now, maxFutureMs: parts.config.ingest.maxFuture, maxPastMs: parts.config.ingest.maxPast };
  const results: ItemResult[] = [];
  const valid: UserEvent[] = [];
  /** Each valid event's index in the batch (parallel to `valid`). */
  const validIndex: number[] = [];
  for (let index = 0; index < raw.length; index++) {
    const v = validateEvent(raw[index], bounds, index);
    if (v.ok) {
      valid.push(v.event);
      validIndex.push(index);
      results[index] = { index, id: v.event.eventId, status: "accepted" };
    } else {
      results[index] = { index, status: "rejected", errors: v.errors };
    }
  }
  const { inserted, duplicates } = await parts.events.append(valid);
  if (inserted.length > 0) parts.emitter.emit("events", inserted);
  // Every event new to the log (the common batch): nothing to complete or retry.
  const allNew = duplicates.length === 0 && inserted.length === valid.length;
  let rewardsJoined = 0;
  if (allNew && !answersDecision(inserted)) await applyFreshEffects(parts, inserted);
  else {
    const { unfinished, retried } = allNew
      ? { unfinished: [], retried: [] }
      : sortDuplicates(parts, valid, validIndex, results, inserted, duplicates);
    const entries = [...unfinished, ...parts.pendingEffects.fresh(inserted)];
    rewardsJoined = await applyEffects(parts, entries, retried, (e) => joinEventReward(parts, e));
  }
  const response = { ...countStatuses(results), rewardsJoined, results };
  const events = parts.metrics.hot.events;
  events.child("accepted").inc(response.accepted);
  events.child("duplicate").inc(response.duplicates);
  events.child("rejected").inc(response.rejected);
  // Nothing usable at all is a bad request; a partly bad batch is answered per item with 200.
  if (response.rejected === raw.length) throw validationError(batchErrors(results));
  return response;
}

/**
 * The duplicates of a batch: those whose first ingest failed before its effects were applied are claimed to
 * be completed now (defect 9); the others are answered `duplicate`, and those this node does not know to be
 * pending are `retried` (their first ingest may have been on another node, or on one that crashed between
 * the log commit and the effects; issue 13): their effects run again through the paths that apply an id once
 * (see applyEffects).
 */
function sortDuplicates(
  parts: EngineParts,
  valid: readonly UserEvent[],
  validIndex: readonly number[],
  results: ItemResult[],
  inserted: readonly UserEvent[],
  duplicates: readonly string[],
): { unfinished: Pending[]; retried: UserEvent[] } {
  // By identity, not id: within one batch the first copy of an eventId is accepted, later copies are duplicates.
  const insertedSet = new Set(inserted);
  const unfinished = parts.pendingEffects.claim(duplicates);
  const completed = new Set(unfinished.map((p) => p.event.eventId));
  const handled = new Set([...completed, ...inserted.map((e) => e.eventId)]);
  const retried: UserEvent[] = [];
  valid.forEach((e, i) => {
    if (insertedSet.has(e)) return;
    const result = results[validIndex[i] as number] as ItemResult;
    if (completed.has(e.eventId)) completed.delete(e.eventId);
    else result.status = "duplicate";
    if (!handled.has(e.eventId)) {
      handled.add(e.eventId);
      retried.push(e);
    }
  });
  return { unfinished, retried };
}

/** Whether some event carries a decisionId (a possible reward: its effects go through `applyEffects`). */
function answersDecision(events: readonly UserEvent[]): boolean {
  for (const e of events) if (e.decisionId !== undefined) return true;
  return false;
}

/** One pass over the per-item results (a batch holds up to `ingest.maxBatch` of them). */
function countStatuses(results: readonly ItemResult[]): { accepted: number; duplicates: number; rejected: number } {
  const counts = { accepted: 0, duplicates: 0, rejected: 0 };
  for (const r of results) {
    if (r.status === "accepted") counts.accepted++;
    else if (r.status === "duplicate") counts.duplicates++;
    else counts.rejected++;
  }
  return counts;
}

/**
 * Events carrying a decisionId become rewards by the configured mapping (click → 1, purchase → value).
 * Undefined (no promise) when the event is no reward: most events in a batch are not, and a promise per
 * event was a visible share of the ingest profile.
 */
function joinEventReward(parts: EngineParts, e: UserEvent): Promise<boolean> | undefined {
  if (!e.decisionId) return undefined;
  const mapped = ownValue(parts.config.rewards.eventMapping, e.type);
  if (mapped === undefined) return undefined;
  return joinMappedReward(parts, e, mapped);
}

async function joinMappedReward(parts: EngineParts, e: UserEvent, mapped: number | "value"): Promise<boolean> {
  if (!e.decisionId) return false;
  const decision = parts.learning.pendingShown(e.decisionId);
  if (decision && e.timestamp < decision.timestamp) {
    // Dated before the decision it answers: it cannot be its outcome (a client clock or id mix-up).
    parts.metrics.rewards.inc({ outcome: "before_decision", source: "event" });
    return false;
  }
  const value = mapped === "value" ? (e.value ?? e.price ?? 0) : mapped;
  const outcome = await recordReward(parts, {
    rewardId: `event:${e.eventId}`,
    decisionId: e.decisionId,
    value,
    type: e.type,
    timestamp: e.timestamp,
    source: "event",
    ...(e.itemId === undefined ? {} : { itemId: e.itemId }),
  });
  return outcome === "accepted";
}

export async function upsertItems(parts: EngineParts, body: unknown): Promise<UpsertItemsResult> {
  const { items: raw } = batchSchema(parts.config.ingest.maxBatch, "items").parse(body) as { items: unknown[] };
  const now = parts.clock.now();
  const results: ItemResult[] = [];
  const valid = [];
  for (const [index, item] of raw.entries()) {
    const v = validateItem(item, now, `items[${index}]`);
    if (v.ok) {
      valid.push(v.item);
      results.push({ index, id: v.item.id, status: "accepted" });
    } else results.push({ index, status: "rejected", errors: v.errors });
  }
  if (valid.length === 0) throw validationError(batchErrors(results));
  await parts.catalog.upsert(valid);
  return { accepted: valid.length, rejected: raw.length - valid.length, results };
}

/** All per-item errors of a batch, for the 400 answered when nothing in it was usable. */
export function batchErrors(results: ItemResult[]): FieldError[] {
  return results.flatMap((r) => r.errors ?? []);
}
