import { z } from "zod";
import { parseTime } from "../core/clock.js";
import { compileSchema } from "../core/compiled-schema.js";
import type { FieldError } from "../core/errors.js";
import { murmur3 } from "../core/hash.js";
import type { FeatureMap, Item, UserEvent } from "../core/types.js";

/** Ids: non-empty printable strings of bounded length (they end up in keys, URLs and logs). */
export const idSchema = z
  .string()
  .min(1, "must be a non-empty string")
  .max(256, "must be at most 256 characters")
  // A pattern, not a refine: JSON Schema (OpenAPI, the compiled validator) carries it too.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: excluding control characters is the point.
  .regex(/^[^\s\x00-\x1f]*$/, "must not contain whitespace or control characters");

const featureValue = z.union([z.number().finite(), z.string().max(1024), z.boolean()]);
export const featureMapSchema = z
  .record(z.string().min(1).max(128), featureValue)
  .refine((m) => Object.keys(m).length <= 256, "must have at most 256 keys")
  // The refine restated for JSON Schema (OpenAPI and the compiled validator), which drops refinements.
  .meta({ maxProperties: 256 });

/** An instant as ISO-8601 string or epoch milliseconds, normalized to epoch ms. */
export const timeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const t = parseTime(v);
  if (t === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return t;
});

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
  itemId: idSchema.optional(),
  category: z.string().min(1).max(256).optional(),
  price: z.number().finite().nonnegative().optional(),
  value: z.number().finite().optional(),
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
  if (input.timestamp === undefined || typeof input.timestamp === "number") {
    return input as Omit<T, "timestamp"> & { timestamp?: number };
  }
  const timestamp = parseTime(input.timestamp);
  return timestamp === undefined ? undefined : { ...input, timestamp };
}

/** The ingest path's validator: compiled once (compiled-schema.ts), zod's wording on failure. */
export const compiledEventInput = compileSchema(eventInputSchema, {
  finish: (input) => withParsedTimestamp(input) as ParsedEvent | undefined,
});

export interface EventBounds {
  now: number;
  maxFutureMs: number;
  maxPastMs: number;
}

export type EventValidation = { ok: true; event: UserEvent } | { ok: false; errors: FieldError[] };

/**
 * Validates one event of a batch. `prefix` names it in errors (`events[3]`). Events far in the future
 * (client clocks) or past (replayed archives) are rejected: they would corrupt time windows silently.
 */
export function validateEvent(raw: unknown, bounds: EventBounds, prefix: string): EventValidation {
  const parsed = compiledEventInput.safeParse(raw, prefix);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  const input = parsed.value;
  const timestamp = input.timestamp ?? bounds.now;
  if (timestamp > bounds.now + bounds.maxFutureMs) {
    return {
      ok: false,
      errors: [
        {
          path: `${prefix}.timestamp`,
          message: `is ${Math.round((timestamp - bounds.now) / 1000)} s in the future; at most ${bounds.maxFutureMs / 1000} s is accepted`,
        },
      ],
    };
  }
  if (timestamp < bounds.now - bounds.maxPastMs) {
    return {
      ok: false,
      errors: [
        { path: `${prefix}.timestamp`, message: `is older than the accepted ${bounds.maxPastMs / 3_600_000} h` },
      ],
    };
  }
  if ((input.type === "purchase" || input.type === "add_to_cart") && input.itemId === undefined) {
    return { ok: false, errors: [{ path: `${prefix}.itemId`, message: `is required for ${input.type} events` }] };
  }
  // A copy: on the compiled path `input` is the caller's own object.
  const event: UserEvent = stripUndefined({
    ...input,
    timestamp,
    eventId: input.eventId ?? contentEventId(input, timestamp),
  });
  return { ok: true, event };
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
  id: idSchema,
  category: z.string().min(1).max(256).optional(),
  price: z.number().finite().nonnegative().optional(),
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
