import type { SessionSeries, SessionTable } from "./minute-sessions.js";
import type { TrackedDecisions } from "./tracked-decisions.js";

/**
 * The per-minute fold's attribution state (app/minute-aggregates.ts) as plain data: which decision a later
 * reward belongs to and which session a later purchase belongs to. The `dashboard-fold` duty writes it with its
 * checkpoint (duties/dashboard-fold-checkpoint.ts), so a new holder attributes rewards and purchases of decisions
 * folded before the takeover as the old holder would have. Tuples, not objects: the V8 serializer writes an
 * object's keys with every object, and the state holds up to `dashboard.maxTracked` decisions and sessions.
 */
export interface FoldAttribution {
  decisions: DecisionTuple[];
  sessions: SessionTuple[];
  /** A user's latest session with an id, or null: the user's latest session has none (or was forgotten). */
  latest: [userId: string, sessionKey: string | null][];
}

/** A tracked decision; the series list is shared by identity (the serializer writes it once per policy or arm). */
export type DecisionTuple = [
  decisionId: string,
  series: readonly string[],
  at: number,
  slotItems: string,
  rewardedSlots: number[] | null,
  session: string,
];

export type SessionTuple = [
  key: string,
  userId: string,
  lastSeen: number,
  bySeries: [series: string, minute: number, revenue: number, purchased: boolean][],
];

/** Which entries changed since the last checkpoint (keys only; their state is read when the delta is made). */
export interface AttributionChanges {
  decisions: Set<string>;
  sessions: Set<string>;
  users: Set<string>;
}

/** The fold's attribution maps (app/minute-aggregates.ts `MinuteAggregator`), lent to the two functions below. */
export interface AttributionMaps {
  decisions: TrackedDecisions<readonly string[]>;
  sessions: SessionTable;
  /** A user's latest session key when it has a session id. */
  latestSession: Map<string, string>;
}

/** Everything the maps hold, or (with `changes`) the entries named there, as they are now. */
export function exportAttribution(maps: AttributionMaps, changes?: AttributionChanges): FoldAttribution {
  const out: FoldAttribution = { decisions: [], sessions: [], latest: [] };
  for (const id of changes ? changes.decisions : maps.decisions.keys()) {
    const d = maps.decisions.slotOf(id);
    if (d !== undefined) out.decisions.push(trackedTuple(id, maps.decisions, d));
  }
  for (const key of changes ? changes.sessions : maps.sessions.keys()) {
    const slot = maps.sessions.slotOf(key);
    if (slot !== undefined) out.sessions.push(sessionTuple(key, maps.sessions, slot));
  }
  for (const user of changes ? changes.users : maps.latestSession.keys()) {
    out.latest.push([user, maps.latestSession.get(user) ?? null]);
  }
  return out;
}

/**
 * Sets a part's entries into the maps (Map.set keeps an existing key's position). Series lists are shared again
 * by content, as the fold interns them.
 */
export function importAttribution(maps: AttributionMaps, part: FoldAttribution): void {
  const lists = new Map<string, readonly string[]>();
  for (const t of part.decisions) {
    const joined = t[1].join("\u0000");
    const series = lists.get(joined) ?? Object.freeze([...t[1]]);
    lists.set(joined, series);
    maps.decisions.set(t[0], series, t[2], t[3], t[5], t[4] ?? undefined);
  }
  for (const t of part.sessions) maps.sessions.set(t[0], t[1], t[2], seriesFromTuple(t));
  for (const [user, key] of part.latest) {
    if (key === null) maps.latestSession.delete(user);
    else maps.latestSession.set(user, key);
  }
}

function trackedTuple(id: string, decisions: TrackedDecisions<readonly string[]>, d: number): DecisionTuple {
  const rewarded = decisions.rewardedSlotsIfAny(d);
  const slots = rewarded ? [...rewarded] : null;
  return [
    id,
    decisions.groupOf(d),
    decisions.atOf(d),
    decisions.slotItemsOf(d),
    slots,
    decisions.sessionOf(d) as string,
  ];
}

function sessionTuple(key: string, sessions: SessionTable, slot: number): SessionTuple {
  const bySeries = sessions
    .seriesOf(slot)
    .map((x): SessionTuple[3][number] => [x.series, x.minute, x.revenue, x.purchased]);
  return [key, sessions.userIdOf(slot), sessions.lastSeenOf(slot), bySeries];
}

function seriesFromTuple(t: SessionTuple): SessionSeries[] {
  return t[3].map(([series, minute, revenue, purchased]) => ({ series, minute, revenue, purchased }));
}
