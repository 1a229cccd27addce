import { z } from "zod";
import { parseTime } from "../core/clock.js";
import type { FieldError } from "../core/errors.js";
import { murmur3 } from "../core/hash.js";
import type { FeatureMap, Item, UserEvent } from "../core/types.js";
import { toFieldErrors } from "../core/validate.js";

/** Ids: non-empty printable strings of bounded length (they end up in keys, URLs and logs). */
export const idSchema = z
  .string()
  .min(1, "must be a non-empty string")
  .max(256, "must be at most 256 characters")
  .refine(
    (s) => !/\s/.test(s) && ![...s].some((c) => c.charCodeAt(0) < 32),
    "must not contain whitespace or control characters",
  );

const featureValue = z.union([z.number().finite(), z.string().max(1024), z.boolean()]);
export const featureMapSchema = z
  .record(z.string().min(1).max(128), featureValue)
  .refine((m) => Object.keys(m).length <= 256, "must have at most 256 keys");

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
  const parsed = eventInputSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: toFieldErrors(parsed.error.issues, prefix) };
  const input = parsed.data;
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
  const event: UserEvent = {
    ...stripUndefined(input),
    timestamp,
    eventId: input.eventId ?? contentEventId(input, timestamp),
  };
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

export type ItemValidation = { ok: true; item: Item } | { ok: false; errors: FieldError[] };

export function validateItem(raw: unknown, now: number, prefix: string): ItemValidation {
  const parsed = itemInputSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: toFieldErrors(parsed.error.issues, prefix) };
  const { available, ...rest } = parsed.data;
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
