import type { UserEvent } from "../core/types.js";

/**
 * One event as kept in a user's window: only what aggregates read. Redis stores it as a sorted-set member
 * (score = timestamp), memory as this object; `decodeEntry(encodeEntry(e))` gives back an equal object (absent fields are present as undefined), so
 * both backends feed identical entries to `computeFeatures`.
 */
export interface WindowEntry {
  /** eventId: makes the member unique, and breaks timestamp ties. */
  id: string;
  /** Timestamp, epoch ms. */
  t: number;
  type: string;
  item?: string;
  cat?: string;
  price?: number;
  value?: number;
  /** The explicit sessionId the client sent, if any. */
  sid?: string;
}

/**
 * Every entry has all eight properties (absent ones undefined) in one order: one hidden class for all
 * entries, so the read-side scans stay monomorphic (optional properties added as met gave up to 32 shapes).
 */
export function toEntry(e: UserEvent): WindowEntry {
  return {
    id: e.eventId,
    t: e.timestamp,
    type: e.type,
    item: e.itemId,
    cat: e.category,
    price: e.price,
    value: e.value,
    sid: e.sessionId,
  };
}

/**
 * Member encoding: a JSON array starting with the eventId. Equal timestamps then order by member, which
 * Redis compares bytewise; `compareEntries` compares the same strings, so ties order identically (JS
 * compares UTF-16 units, Redis UTF-8 bytes: they agree except between astral and U+E000–U+FFFF chars).
 */
export function encodeEntry(e: WindowEntry): string {
  return JSON.stringify([
    e.id,
    e.t,
    e.type,
    e.item ?? null,
    e.cat ?? null,
    e.price ?? null,
    e.value ?? null,
    e.sid ?? null,
  ]);
}

type Opt<T> = T | null;
type Encoded = [string, number, string, Opt<string>, Opt<string>, Opt<number>, Opt<number>, Opt<string>];

export function decodeEntry(s: string): WindowEntry {
  const [id, t, type, item, cat, price, value, sid] = JSON.parse(s) as Encoded;
  // The same fixed shape as toEntry.
  return {
    id,
    t,
    type,
    item: item ?? undefined,
    cat: cat ?? undefined,
    price: price ?? undefined,
    value: value ?? undefined,
    sid: sid ?? undefined,
  };
}

/** Time order, then member order for equal timestamps (the order a Redis sorted set keeps). */
export function compareEntries(a: WindowEntry, b: WindowEntry): number {
  if (a.t !== b.t) return a.t - b.t;
  const ea = encodeEntry(a);
  const eb = encodeEntry(b);
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}
