import { z } from "zod";
import { parseDuration } from "../core/clock.js";

const DAY = 24 * 3_600_000;

/** A duration ("90d", ms) or "forever" (the default: nothing is deleted, as before retention existed). */
const retentionValue = z.union([z.literal("forever"), z.number().positive(), z.string()]).transform((v, ctx) => {
  if (v === "forever") return undefined;
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `${(e as Error).message}, or "forever"` });
    return z.NEVER;
  }
});

const positiveDuration = z.union([z.number().positive(), z.string()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * `log`: how long the durable log (decisions with their activations and rewards, events) is kept. Unset
 * (`"forever"`) nothing is deleted. Retention runs in the background: embedded, a timer of the engine
 * (app/log-retention-runner.ts); scale-out, the `log-retention` worker duty (duties/log-retention.ts).
 */
export const logConfigSchema = z
  .object({
    /** Rows whose time is older than now − retention are deleted (SQLite) or their day dropped (PostgreSQL). */
    retention: retentionValue.optional(),
    /** How often retention (and, on PostgreSQL, creating the coming days' partitions) runs. */
    retentionEvery: positiveDuration.default(3_600_000),
    /** PostgreSQL: daily partitions created ahead of time (today included). */
    partitionsAhead: z.number().int().min(2).max(60).default(7),
  })
  .prefault({});

export type LogConfig = z.infer<typeof logConfigSchema>;

/** The settings whose windows read the log, as far back as they look (all epoch-ms durations). */
export interface RetentionFloorInputs {
  rewards: { window: number; maxPast: number };
  ingest: { maxPast: number };
  rollouts: { opeGateLookback: number };
  recommend: { trainWindow: number };
  features: { rebuildLookback: number };
}

/**
 * The clamp rule: retention may not delete what a live feature still reads, so it must be at least the longest
 * of these windows (config validation refuses a shorter one, naming `log.retention` and the window that sets
 * the floor). Rollout counters and the learner's checkpoints are stored on their own (not recomputed from the
 * log), so they set no floor; the OPE gate, training, late rewards, feature rebuilds and late events do.
 */
export function retentionFloor(c: RetentionFloorInputs): { ms: number; setBy: string } {
  const windows: [string, number][] = [
    ["rewards.window", c.rewards.window],
    ["rewards.maxPast (a late reward still finds its decision)", c.rewards.maxPast],
    ["ingest.maxPast (an event accepted late lands in a kept day)", c.ingest.maxPast],
    ["rollouts.opeGateLookback (the OPE gate's read window)", c.rollouts.opeGateLookback],
    ["recommend.trainWindow (the recommender's training window)", c.recommend.trainWindow],
    [
      "the feature store's rebuild span (features.windowDuration, sessionGap, custom windows)",
      c.features.rebuildLookback,
    ],
  ];
  let floor: [string, number] = ["", 0];
  for (const w of windows) if (w[1] > floor[1]) floor = w;
  return { ms: floor[1], setBy: floor[0] };
}

/** The error for a retention below the floor, or undefined when it is allowed (forever always is). */
export function retentionTooShort(retentionMs: number | undefined, c: RetentionFloorInputs): string | undefined {
  if (retentionMs === undefined) return undefined;
  const floor = retentionFloor(c);
  if (retentionMs >= floor.ms) return undefined;
  return `must be at least ${formatDays(floor.ms)} (${floor.ms} ms), the longest window that reads the log: ${floor.setBy}; shorten that window or keep the log longer`;
}

function formatDays(ms: number): string {
  return ms % DAY === 0 ? `${ms / DAY}d` : `${ms / 3_600_000}h`;
}

/** Personalizer's `logRetentionDays` (-1: keep forever) as `log.retention`. */
export function retentionFromPersonalizerDays(days: number): number | "forever" {
  if (!Number.isInteger(days) || (days < 1 && days !== -1)) {
    throw new RangeError(`logRetentionDays must be -1 (forever) or a positive whole number of days, got ${days}`);
  }
  return days === -1 ? "forever" : days * DAY;
}

/** `log.retention` as Personalizer's `logRetentionDays`: whole days, rounded up (kept at least that long). */
export function personalizerDaysOfRetention(retentionMs: number | undefined): number {
  return retentionMs === undefined ? -1 : Math.ceil(retentionMs / DAY);
}
