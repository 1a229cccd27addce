import type { UserEvent } from "../core/types.js";
import type { CustomAggregateConfig, FeaturesConfig } from "./features-config.js";
import { toEntry, type WindowEntry } from "./window-entry.js";

/**
 * Features emit writes as data (Metarank): an event maps to small writes on a few state primitives, which
 * memory (`storage/memory/feature-state.ts`) and Redis (`storage/redis/feature-lua.ts`) both implement.
 * Per user the state is:
 *   - W, a time-ordered bounded list (the window): `window`;
 *   - H, user-level last-values and counters: `max`, `min`, `last` (last-value by event time), `incr` scope user;
 *   - S, session counters, emptied when a session starts: `incr` scope session;
 *   - C, windowed counters (time buckets): `wincr`.
 * All arithmetic on stored values is IEEE addition or comparison, so Lua and JS store bit-identical numbers;
 * every other formula (decay, ratios, stddev) runs once, in `computeFeatures`, over what was stored.
 *
 * Out-of-order events (older than the user's latest) are accepted: the window inserts them in time order
 * (and drops them if they fall outside the last N events / last T), `max`/`min`/`last` keep the value by
 * event time, and the `session` write decides whether they belong to the current session (see below).
 * Duplicates: events arrive deduplicated by eventId (the ingest's job). A duplicate that slipped through is
 * not added to the window twice (same member), but the memory backend's counters would count it again; the
 * Redis backend remembers the event ids it applied (feature-lua.ts) and skips a retry entirely (`appliesOnce`).
 */
export type Write =
  /**
   * Session assignment, always first. With ts >= the session's last event: a new session starts when the
   * explicit sessionId differs from the current one, or when the gap since the session's last event exceeds
   * `gap`; otherwise the session continues. A late event (ts < session's last) joins the current session
   * when its sessionId is absent or equal and ts >= sessionStart - gap (moving the start back if earlier);
   * otherwise it belongs to a past session and session-scoped writes skip it.
   * A new session's id is the explicit sessionId, else "s" + floor(ts) (decimal, as both backends print it).
   */
  | { op: "session"; ts: number; sid?: string; gap: number }
  | { op: "max"; field: string; value: number }
  | { op: "min"; field: string; value: number }
  | { op: "incr"; scope: "user" | "session"; field: string; by: number }
  /** Last-value by event time: kept when ts >= the stored `${field}@` (ties: the later arrival wins). */
  | { op: "last"; field: string; value: string | number; ts: number }
  /** Insert in time order; then drop entries older than latest - span, then all but the newest maxLen. */
  | { op: "window"; entry: WindowEntry; maxLen: number; span: number }
  /**
   * Windowed counter: adds `by` to bucket floor(ts / bucketMs) of `field`; buckets more than `buckets - 1`
   * behind the user's latest event's bucket are dropped (and an event that old is not counted).
   */
  | { op: "wincr"; field: string; ts: number; bucketMs: number; buckets: number; by: number };

/** Hash field names (H and S). Stable: they are the stored format shared by both backends. */
export const F = {
  sid: "sid",
  sessionStart: "sstart",
  sessionLast: "slast",
  latest: "latest",
  first: "first",
  sessions: "sessions",
  events: "events",
  tz: "tz",
  lastOfType: (type: string) => interned(lastOfTypeNames, "last:", type),
  sessionType: (type: string) => interned(sessionTypeNames, "n:", type),
} as const;

// Field names per event type, built once: a fresh string per event would be hashed again on every write.
const lastOfTypeNames = new Map<string, string>();
const sessionTypeNames = new Map<string, string>();
function interned(cache: Map<string, string>, prefix: string, type: string): string {
  let name = cache.get(type);
  if (name === undefined) {
    name = prefix + type;
    if (cache.size < 10_000) cache.set(type, name);
  }
  return name;
}

export const CUSTOM_BUCKETS = 12;

/** The writes one event makes, in order. */
export function writesFor(e: UserEvent, config: FeaturesConfig): Write[] {
  const ts = e.timestamp;
  const w: Write[] = [
    { op: "session", ts, gap: config.sessionGap },
    { op: "max", field: F.latest, value: ts },
    { op: "min", field: F.first, value: ts },
    { op: "incr", scope: "user", field: F.events, by: 1 },
    { op: "incr", scope: "session", field: F.events, by: 1 },
    { op: "incr", scope: "session", field: F.sessionType(e.type), by: 1 },
    { op: "max", field: F.lastOfType(e.type), value: ts },
  ];
  if (e.sessionId !== undefined) (w[0] as { sid?: string }).sid = e.sessionId;
  // Local time: context.timezoneOffsetMinutes (minutes east of UTC, i.e. -Date#getTimezoneOffset()).
  const tz = e.context?.timezoneOffsetMinutes;
  if (typeof tz === "number" && Number.isFinite(tz)) w.push({ op: "last", field: F.tz, value: tz, ts });
  w.push({ op: "window", entry: toEntry(e), maxLen: config.windowSize, span: config.windowDuration });
  for (const c of config.custom) customWrites(c, e, w);
  return w;
}

/** The event field a custom aggregate reads (last/distinct default to itemId). */
export function customValue(
  c: CustomAggregateConfig,
  e: { itemId?: string; category?: string; price?: number; value?: number },
): string | number | undefined {
  switch (c.field ?? "itemId") {
    case "price":
      return e.price;
    case "value":
      return e.value;
    case "category":
      return e.category;
    default:
      return e.itemId;
  }
}

/** The writes of the user-declared aggregates for one event, appended to `out` (also used by the memory fast path). */
export function customWrites(c: CustomAggregateConfig, e: UserEvent, out: Write[]): void {
  if (c.window === "window" || c.aggregate === "distinct") return; // computed from the window at read time
  if (c.eventTypes.length > 0 && !c.eventTypes.includes(e.type)) return;
  const v = customValue(c, e);
  if (c.aggregate === "last") {
    if (v !== undefined) out.push({ op: "last", field: `l:${c.name}`, value: JSON.stringify(v), ts: e.timestamp });
    return;
  }
  const adds: [string, number][] = [];
  if (c.aggregate === "count") adds.push([`${c.name}:n`, 1]);
  else if (typeof v === "number") adds.push([`${c.name}:n`, 1], [`${c.name}:s`, v]);
  for (const [field, by] of adds) {
    if (c.window === "session") out.push({ op: "incr", scope: "session", field: `x:${field}`, by });
    else if (c.window === "lifetime") out.push({ op: "incr", scope: "user", field: `u:${field}`, by });
    else {
      const bucketMs = Math.ceil(c.window / CUSTOM_BUCKETS);
      out.push({ op: "wincr", field, ts: e.timestamp, bucketMs, buckets: CUSTOM_BUCKETS, by });
    }
  }
}
