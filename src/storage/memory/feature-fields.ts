import { BUILTIN_EVENT_TYPES } from "../../core/types.js";
import type { FieldSource } from "../../features/feature-snapshot.js";
import { F } from "../../features/feature-writes.js";

/**
 * The layout of a user's numeric state in the memory backend's slab (`feature-state.ts`): one row of
 * STRIDE doubles per user in shared Float64Array pages, NaN = unset. A row instead of an object per user: no
 * per-user objects for the GC to copy and scan (with pointer compression every double field of an object
 * is a separate boxed HeapNumber), and the fields an event touches sit in two cache lines.
 * Offsets of the H fields (user), the S counters (session) and the store's own bookkeeping.
 */
export const SSTART = 0;
export const SLAST = 1;
export const LATEST = 2;
export const FIRST = 3;
export const SESSIONS = 4;
export const EVENTS = 5;
export const TZ = 6;
export const TZ_AT = 7;
/** last:<type> for the built-in types, in BUILTIN_EVENT_TYPES order (view, click, add_to_cart, purchase). */
export const LAST_OF_TYPE = 8;
/** Session counters: events, then n:<type> for the built-in types (0 = none, as a missing S field). */
export const S_EVENTS = 12;
export const S_TYPE = 13;
/** Bookkeeping: wall-clock ms of the last applied event; the store's sequence at it and at (re)queueing. */
export const LAST_ACTIVE = 17;
export const TOUCHED = 18;
export const QUEUED = 19;
export const STRIDE = 20;

type Value = string | number;

/** Stored H field name → row offset (the generic `set`/`get` paths). */
export const USER_OFFSETS: ReadonlyMap<string, number> = new Map([
  [F.sessionStart, SSTART],
  [F.sessionLast, SLAST],
  [F.latest, LATEST],
  [F.first, FIRST],
  [F.sessions, SESSIONS],
  [F.events, EVENTS],
  [F.tz, TZ],
  [`${F.tz}@`, TZ_AT],
  ...BUILTIN_EVENT_TYPES.map((t, i) => [F.lastOfType(t), LAST_OF_TYPE + i] as [string, number]),
]);

/** Stored S field name → row offset. */
export const SESSION_OFFSETS: ReadonlyMap<string, number> = new Map([
  [F.events, S_EVENTS],
  ...BUILTIN_EVENT_TYPES.map((t, i) => [F.sessionType(t), S_TYPE + i] as [string, number]),
]);

/** Index of a built-in event type (view 0, click 1, add_to_cart 2, purchase 3), -1 for any other. */
export function builtinTypeIndex(type: string): number {
  switch (type) {
    case "view":
      return 0;
    case "click":
      return 1;
    case "add_to_cart":
      return 2;
    case "purchase":
      return 3;
    default:
      return -1;
  }
}

if (BUILTIN_EVENT_TYPES.join() !== "view,click,add_to_cart,purchase") {
  throw new Error(`built-in event types drifted: ${BUILTIN_EVENT_TYPES.join()}`);
}

const defined = (x: number): number | undefined => (Number.isNaN(x) ? undefined : x);

/** A user's H fields by stored name, read from the row (and the sid / extra fields kept beside it). */
export class UserFieldsView implements FieldSource {
  constructor(
    private readonly data: Float64Array,
    private readonly base: number,
    private readonly sid: string | undefined,
    private readonly extra: ReadonlyMap<string, Value> | undefined,
  ) {}
  get(field: string): Value | undefined {
    if (field === F.sid) return this.sid;
    const off = USER_OFFSETS.get(field);
    if (off !== undefined) return defined(this.data[this.base + off] as number);
    return this.extra?.get(field);
  }
}

/** The current session's S counters by stored name. */
export class SessionFieldsView implements FieldSource {
  constructor(
    private readonly data: Float64Array,
    private readonly base: number,
    private readonly extra: ReadonlyMap<string, Value> | undefined,
  ) {}
  get(field: string): Value | undefined {
    const off = SESSION_OFFSETS.get(field);
    if (off !== undefined) return this.data[this.base + off] as number;
    return this.extra?.get(field);
  }
}
