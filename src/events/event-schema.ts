import { z } from "zod";
import { parseTime } from "../core/clock.js";
import { compileSchema } from "../core/compiled-schema.js";
import type { FieldError } from "../core/errors.js";
import { murmur3 } from "../core/hash.js";
import type { FeatureMap, Item, UserEvent } from "../core/types.js";

/**
 * The one id rule (issue 14), for every id in a body or a path: 1–128 characters (Unicode code points) of
 * printable text: no whitespace, no control characters, no lone surrogates; not "." or ".." (URL clients
 * resolve those as dot segments, so such an id could never be read back). Ids end up in keys, URLs
 * (128 × 4 UTF-8 bytes percent-encoded fits the server's maxParamLength) and logs. A regex with the `u`
 * flag, not a refinement, so the rule survives conversion to JSON Schema (ajv, OpenAPI).
 */
export const ID_MAX_CHARS = 128;
export const ID_PATTERN = /^(?!\.\.?$)[^\s\p{Cc}\p{Cs}]{1,128}$/u;
export const idSchema = z
  .string()
  .regex(
    ID_PATTERN,
    `must be 1–${ID_MAX_CHARS} characters, without whitespace, control characters or lone surrogates, and not "." or ".."`,
  );

/**
 * Item ids (catalog items, candidates, `exclude`, an event's or a reward's `itemId`) may hold inner spaces: they
 * are names in a body, never a URL segment, and clients have them (Personalizer's own quickstart ranks
 * `"ice cream"`; the id rule above refused it with a 400). Still 1–128 characters with no control characters,
 * line or paragraph separators or lone surrogates, not "." or "..", and no whitespace at either end (`"sku-1 "`
 * would be a different item from `"sku-1"` that reads the same).
 */
export const ITEM_ID_PATTERN = /^(?!\.\.?$)(?!\s)(?![\s\S]*\s$)[^\p{Cc}\p{Cs}\p{Zl}\p{Zp}]{1,128}$/u;
export const itemIdSchema = z
  .string()
  .regex(
    ITEM_ID_PATTERN,
    `must be 1–${ID_MAX_CHARS} characters without control characters or lone surrogates, not starting or ending with whitespace, and not "." or ".."`,
  );

/**
 * Value bounds (issue 14): rewards, event values and prices are finite and within ±1e9 (a sum of a
 * million of them stays exact enough in a double, and no mean can overflow to Infinity); feature numbers
 * within ±1e15 (epoch milliseconds fit; squares used by the models stay finite).
 */
export const VALUE_LIMIT = 1e9;
export const FEATURE_NUMBER_LIMIT = 1e15;
export const valueSchema = z.number().finite().min(-VALUE_LIMIT).max(VALUE_LIMIT);
export const priceSchema = z.number().finite().nonnegative().max(VALUE_LIMIT);

const featureValue = z.union([
  z.number().finite().min(-FEATURE_NUMBER_LIMIT).max(FEATURE_NUMBER_LIMIT),
  z.string().max(1024),
  z.boolean(),
]);
/**
 * Features in one map (a context, an item, an action): room for a dense embedding (text embeddings run to 1,536 or
 * 3,072 dimensions, flattened to `embedding[0]`, `embedding[1]`, …), which Personalizer clients send and VW took
 * whatever its size. It was 256, which refused a 300-dimension embedding; the body limit still bounds a request.
 */
export const MAX_FEATURES = 4096;
export const featureMapSchema = z
  .record(z.string().min(1).max(128), featureValue)
  .refine((m) => Object.keys(m).length <= MAX_FEATURES, `must have at most ${MAX_FEATURES} keys`)
  // The refine restated for JSON Schema (OpenAPI and the compiled validator), which drops refinements.
  .meta({ maxProperties: MAX_FEATURES });

/** Times outside [2000, 2100) are refused whatever the ingest window: they are typos or unit mistakes. */
export const EARLIEST_TIME = Date.UTC(2000, 0, 1);
export const LATEST_TIME = Date.UTC(2100, 0, 1);

/** An instant as ISO-8601 string or epoch milliseconds within years 2000–2099, normalized to epoch ms. */
export const timeSchema = z.union([z.number(), z.string().max(64)]).transform((v, ctx) => {
  const t = parseTime(v);
  if (t === undefined || t < EARLIEST_TIME || t >= LATEST_TIME) {
    ctx.addIssue({
      code: "custom",
      message: `expected an ISO-8601 time or epoch milliseconds between 2000 and 2100, got ${JSON.stringify(v).slice(0, 80)}`,
    });
    return z.NEVER;
  }
  return t;
});

export interface TimeWindow {
  now: number;
  maxFutureMs: number;
  maxPastMs: number;
}

/** The ingest window (config ingest.maxPast/maxFuture): an error message when `t` is outside it. */
export function outsideWindow(t: number, bounds: TimeWindow): string | undefined {
  if (t > bounds.now + bounds.maxFutureMs)
    return `is ${Math.round((t - bounds.now) / 1000)} s in the future; at most ${bounds.maxFutureMs / 1000} s is accepted`;
  if (t < bounds.now - bounds.maxPastMs) return `is older than the accepted ${bounds.maxPastMs / 3_600_000} h`;
  return undefined;
}

export const eventTypeSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{0,63}$/,
    "must be view, click, add_to_cart, purchase or a custom lowercase name like wishlist_add",
  );

export const eventInputSchema = z.strictObject({
  type: eventTypeSchema,
  userId: idSchema,
  sessionId: idSchema.optional(),
  itemId: itemIdSchema.optional(),
  category: z.string().min(1).max(256).optional(),
  price: priceSchema.optional(),
  value: valueSchema.optional(),
  timestamp: timeSchema.optional(),
  eventId: idSchema.optional(),
  decisionId: idSchema.optional(),
  context: featureMapSchema.optional(),
});

export type EventInput = z.input<typeof eventInputSchema>;
type ParsedEvent = z.output<typeof eventInputSchema>;

/** Times ending up as epoch ms, as `timeSchema`'s transform would (an unparsable one: zod words the error). */
export function withParsedTimestamp<T extends { timestamp?: number | string | undefined }>(
  input: T,
): (Omit<T, "timestamp"> & { timestamp?: number }) | undefined {
  if (input.timestamp === undefined) return input as Omit<T, "timestamp"> & { timestamp?: number };
  const timestamp = typeof input.timestamp === "number" ? input.timestamp : parseTime(input.timestamp);
  // Outside [2000, 2100) or unparsable: zod's transform words the error (timeSchema).
  if (timestamp === undefined || timestamp < EARLIEST_TIME || timestamp >= LATEST_TIME) return undefined;
  return typeof input.timestamp === "number"
    ? (input as Omit<T, "timestamp"> & { timestamp?: number })
    : { ...input, timestamp };
}

/** The ingest path's validator: compiled once (compiled-schema.ts), zod's wording on failure. */
export const compiledEventInput = compileSchema(eventInputSchema, {
  finish: (input) => withParsedTimestamp(input) as ParsedEvent | undefined,
});

export type EventBounds = TimeWindow;

export type EventValidation = { ok: true; event: UserEvent } | { ok: false; errors: FieldError[] };

/**
 * Validates the event at `index` of a batch, named `events[index]` in errors. Events far in the future
 * (client clocks) or past (replayed archives) are rejected: they would corrupt time windows silently.
 * The name is built only for an error: a string per event of every batch otherwise (issue 12).
 */
export function validateEvent(raw: unknown, bounds: EventBounds, index: number): EventValidation {
  const parsed = compiledEventInput.safeParse(raw);
  // Rejected: parsed again with its name, so zod words every error with the path (a rare, slow path anyway).
  if (!parsed.ok) return compiledEventInput.safeParse(raw, eventPath(index)) as EventValidation;
  const input = parsed.value;
  const timestamp = input.timestamp ?? bounds.now;
  const outside = outsideWindow(timestamp, bounds);
  if (outside) return { ok: false, errors: [{ path: `${eventPath(index)}.timestamp`, message: outside }] };
  if ((input.type === "purchase" || input.type === "add_to_cart") && input.itemId === undefined) {
    const message = `is required for ${input.type} events`;
    return { ok: false, errors: [{ path: `${eventPath(index)}.itemId`, message }] };
  }
  return { ok: true, event: storedEvent(input, timestamp) };
}

/** An event's name in a batch's errors. */
function eventPath(index: number): string {
  return `events[${index}]`;
}

/**
 * The event as stored: a copy (on the compiled path `input` is the caller's own object), built field by
 * field with only the fields present. A spread followed by `delete` of the undefined ones turned the copies
 * into dictionary-mode objects when a field was undefined, slower to read, clone and stringify on every
 * later step (the ingest profile, issue 12); this is one pass with no deletes. The schema is strict, so
 * these are all the fields an event can have.
 */
function storedEvent(input: ParsedEvent, timestamp: number): UserEvent {
  const event: UserEvent = {
    eventId: input.eventId ?? contentEventId(input, timestamp),
    type: input.type,
    userId: input.userId,
    timestamp,
  };
  if (input.sessionId !== undefined) event.sessionId = input.sessionId;
  if (input.itemId !== undefined) event.itemId = input.itemId;
  if (input.category !== undefined) event.category = input.category;
  if (input.price !== undefined) event.price = input.price;
  if (input.value !== undefined) event.value = input.value;
  if (input.decisionId !== undefined) event.decisionId = input.decisionId;
  if (input.context !== undefined) event.context = input.context;
  return event;
}

/**
 * An event without an id gets one derived from its content, so a client retrying the same batch (same
 * timestamps) is still deduplicated. Two genuinely identical events in the same millisecond collapse
 * into one, which is the safer error for counters.
 */
function contentEventId(input: z.infer<typeof eventInputSchema>, timestamp: number): string {
  const key = [input.type, input.userId, input.sessionId, input.itemId, input.decisionId, input.value, timestamp].join(
    "\u0001",
  );
  return `ev_${murmur3(key, 1).toString(36)}${murmur3(key, 2).toString(36)}`;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export const itemInputSchema = z.strictObject({
  id: itemIdSchema,
  category: z.string().min(1).max(256).optional(),
  price: priceSchema.optional(),
  features: featureMapSchema.optional(),
  available: z.boolean().optional(),
});

const compiledItemInput = compileSchema(itemInputSchema);

export type ItemValidation = { ok: true; item: Item } | { ok: false; errors: FieldError[] };

export function validateItem(raw: unknown, now: number, prefix: string): ItemValidation {
  const parsed = compiledItemInput.safeParse(raw, prefix);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  const { available, ...rest } = parsed.value;
  return { ok: true, item: { ...stripUndefined(rest), available: available ?? true, updatedAt: now } };
}

/** Features an item contributes to a candidate: category and price plus its own features. */
export function itemFeatures(item: Item | undefined): FeatureMap {
  if (!item) return {};
  const out: FeatureMap = { ...item.features };
  if (item.category !== undefined) out.category = item.category;
  if (item.price !== undefined) out.price = item.price;
  return out;
}
