import { z } from "zod";
import { DAY, MINUTE, parseDuration } from "../core/clock.js";

/**
 * Feature store configuration (issue 3). Exported so the main config object can embed it as `features`.
 * Durations accept "30m", "24h", "500ms" or milliseconds; the parsed config holds milliseconds.
 */
const duration = z.union([z.number().positive(), z.string()]).transform((v, ctx) => {
  try {
    const ms = parseDuration(v);
    if (ms > 0) return ms;
    ctx.addIssue({ code: "custom", message: "must be a positive duration" });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
  return z.NEVER;
});

export const CUSTOM_AGGREGATES = ["count", "sum", "mean", "last", "distinct"] as const;
export const CUSTOM_FIELDS = ["price", "value", "itemId", "category"] as const;
export type CustomAggregate = (typeof CUSTOM_AGGREGATES)[number];
export type CustomField = (typeof CUSTOM_FIELDS)[number];

/**
 * A user-declared aggregate: event type filter × aggregate × window, without code. Windows:
 * - "window": the user's sliding window (last N events, last T of time);
 * - "session": the current session (count/sum/mean exact via counters; last/distinct see the session's
 *   events inside the window);
 * - "lifetime": since the user's state was created (count/sum/mean/last);
 * - a duration ("1h", "7d"): a bucketed windowed counter, 12 buckets of duration/12 (count/sum/mean/last).
 * `distinct` needs the raw events, so it is allowed on "window" and "session" only.
 * The aggregate is published as `custom_<name>`.
 */
export const customAggregateSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "lowercase letters, digits and _; starting with a letter"),
    /** Event types counted; empty = every type. */
    eventTypes: z.array(z.string().min(1)).default([]),
    aggregate: z.enum(CUSTOM_AGGREGATES),
    /** The event field aggregated: required by sum/mean (price|value); last/distinct default to itemId. */
    field: z.enum(CUSTOM_FIELDS).optional(),
    window: z.union([z.enum(["window", "session", "lifetime"]), duration]).default("window"),
  })
  .superRefine((c, ctx) => {
    const numeric = c.field === "price" || c.field === "value";
    if ((c.aggregate === "sum" || c.aggregate === "mean") && !numeric) {
      ctx.addIssue({ code: "custom", path: ["field"], message: `${c.aggregate} needs field "price" or "value"` });
    }
    if (c.aggregate === "distinct" && c.window !== "window" && c.window !== "session") {
      ctx.addIssue({ code: "custom", path: ["window"], message: 'distinct is computed on "window" or "session" only' });
    }
  });

export type CustomAggregateConfig = z.infer<typeof customAggregateSchema>;

export const featuresConfigSchema = z
  .object({
    /** N: events kept per user (the window is the last N events and the last T, whichever is smaller). */
    windowSize: z.number().int().min(1).max(10_000).default(100),
    /** T: the window's time span. */
    windowDuration: duration.default(30 * MINUTE),
    /** Inactivity gap that ends a session (an explicit sessionId change ends it too). */
    sessionGap: duration.default(30 * MINUTE),
    /** k of "last k distinct viewed categories/items". */
    k: z.number().int().min(1).max(50).default(5),
    /** Resident users in the memory backend; the least recently active are evicted beyond it. */
    maxUsers: z.number().int().min(1).default(1_000_000),
    /**
     * Estimated bytes of the memory backend's state (users' rows and window entries); the least recently
     * active users are evicted beyond it. A full window is ~100 entries of ~170 bytes, so a count cap alone
     * (1M users) could hold 16 GiB; this bounds the heap whatever the traffic's shape.
     */
    maxBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(512 * 1024 * 1024),
    /** A user with no event for this long is dropped (memory: swept; Redis: key expiry). */
    idleTtl: duration.default(DAY),
    /** Half-life of category affinity's exponential time decay. */
    affinityHalfLife: duration.default(10 * MINUTE),
    custom: z.array(customAggregateSchema).default([]),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.custom.forEach((a, i) => {
      if (seen.has(a.name)) ctx.addIssue({ code: "custom", path: ["custom", i, "name"], message: "duplicate name" });
      seen.add(a.name);
    });
  });

export type FeaturesConfig = z.infer<typeof featuresConfigSchema>;
export type FeaturesConfigInput = z.input<typeof featuresConfigSchema>;

/** Parses (and defaults) a features config; throws zod's error on bad input (callers use parseOrThrow). */
export function featuresConfig(input: FeaturesConfigInput = {}): FeaturesConfig {
  return featuresConfigSchema.parse(input);
}
