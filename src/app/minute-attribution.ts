import type { SessionSeries, TrackedDecision, TrackedSession } from "./minute-aggregates.js";

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

export function trackedTuple(id: string, d: TrackedDecision): DecisionTuple {
  const slots = d.rewardedSlots && d.rewardedSlots.size > 0 ? [...d.rewardedSlots] : null;
  return [id, d.series, d.at, d.slotItems, slots, d.session];
}

export function trackedFromTuple(t: DecisionTuple, series: readonly string[]): TrackedDecision {
  return {
    series,
    at: t[2],
    slotItems: t[3],
    ...(t[4] ? { rewardedSlots: new Set(t[4]) } : {}),
    session: t[5],
  };
}

export function sessionTuple(key: string, s: TrackedSession): SessionTuple {
  return [key, s.userId, s.lastSeen, s.bySeries.map((x) => [x.series, x.minute, x.revenue, x.purchased])];
}

export function sessionFromTuple(t: SessionTuple): TrackedSession {
  const bySeries: SessionSeries[] = t[3].map(([series, minute, revenue, purchased]) => ({
    series,
    minute,
    revenue,
    purchased,
  }));
  return { userId: t[1], lastSeen: t[2], bySeries };
}
