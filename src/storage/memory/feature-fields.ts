import { BUILTIN_EVENT_TYPES } from "../../core/types.js";
import type { FieldSource } from "../../features/feature-snapshot.js";
import { F } from "../../features/feature-writes.js";

/**
 * A user's (or session's) fields on a plain object rather than a Map: the fields every user has are
 * in-object properties from the start, so all users share one hidden class, and a few hundred thousand of
 * them cost a fraction of the memory and GC time of as many Maps. Other fields (custom aggregates, custom
 * event types) are added as met. No field name collides with Object.prototype: they are fixed names
 * or carry a prefix ("last:", "n:", "u:", "l:", "x:").
 */
type Values = Record<string, string | number | undefined>;

/* Classes with the hot fields declared (quoted names), so a new bag is one allocation with a fixed shape. */
class UserValues {
  sid: string | number | undefined = undefined;
  sstart: string | number | undefined = undefined;
  slast: string | number | undefined = undefined;
  latest: string | number | undefined = undefined;
  first: string | number | undefined = undefined;
  sessions: string | number | undefined = undefined;
  events: string | number | undefined = undefined;
  tz: string | number | undefined = undefined;
  "tz@": string | number | undefined = undefined;
  "last:view": string | number | undefined = undefined;
  "last:click": string | number | undefined = undefined;
  "last:add_to_cart": string | number | undefined = undefined;
  "last:purchase": string | number | undefined = undefined;
}

class SessionValues {
  events: string | number | undefined = undefined;
  "n:view": string | number | undefined = undefined;
  "n:click": string | number | undefined = undefined;
  "n:add_to_cart": string | number | undefined = undefined;
  "n:purchase": string | number | undefined = undefined;
}

// The declared names must be the stored field names: checked once at load.
for (const [cls, names] of [
  [
    UserValues,
    [
      F.sid,
      F.sessionStart,
      F.sessionLast,
      F.latest,
      F.first,
      F.sessions,
      F.events,
      F.tz,
      `${F.tz}@`,
      ...BUILTIN_EVENT_TYPES.map(F.lastOfType),
    ],
  ],
  [SessionValues, [F.events, ...BUILTIN_EVENT_TYPES.map(F.sessionType)]],
] as const) {
  const declared = Object.keys(new cls());
  if (declared.join() !== names.join()) throw new Error(`feature field names drifted: ${declared} vs ${names}`);
}

export class FieldBag implements FieldSource {
  private v: Values;
  constructor(kind: "user" | "session") {
    this.v = (kind === "user" ? new UserValues() : new SessionValues()) as unknown as Values;
  }
  get(field: string): string | number | undefined {
    return this.v[field];
  }
  set(field: string, value: string | number): void {
    this.v[field] = value;
  }
  /** Defined fields, for tests and debugging. */
  entries(): [string, string | number][] {
    return Object.entries(this.v).filter((e): e is [string, string | number] => e[1] !== undefined);
  }
}
