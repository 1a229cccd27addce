import { MINUTE } from "../core/clock.js";
import { Xoshiro128 } from "../core/rng.js";
import type { FeatureMap, UserEvent } from "../core/types.js";

/**
 * Event streams for the contract suite, tests and the benchmark: deterministic from a seed. Not a model of
 * any shop; it exercises every state path (sessions split by gap and by explicit id, late events,
 * missing fields, time-zone context).
 */
let seq = 0;

export function mkEvent(
  userId: string,
  type: string,
  timestamp: number,
  extra: Partial<Omit<UserEvent, "userId" | "type" | "timestamp">> = {},
): UserEvent {
  seq++;
  return { eventId: extra.eventId ?? `e${seq}`, userId, type, timestamp, ...extra };
}

export interface GenerateOptions {
  users: number;
  events: number;
  start: number;
  seed: number;
  /** Distinct items and categories (defaults 5,000 and 200). */
  items?: number;
  categories?: number;
  /** Share of events delivered late (1–90 s older than the user's previous event); default 0.05. */
  lateShare?: number;
}

const TYPES = ["view", "view", "view", "view", "view", "view", "click", "click", "add_to_cart", "purchase", "wishlist"];

/** Users take turns at random; each user's clock advances 1–120 s per event, with a 35–90 min pause now and then. */
export function generateEvents(o: GenerateOptions): UserEvent[] {
  const rng = new Xoshiro128(o.seed);
  const items = o.items ?? 5000;
  const categories = o.categories ?? 200;
  const lateShare = o.lateShare ?? 0.05;
  const clocks = new Float64Array(o.users).fill(o.start);
  const out: UserEvent[] = [];
  const pick = (n: number): number => Math.floor(rng.next() * n);
  for (let i = 0; i < o.events; i++) {
    const u = pick(o.users);
    let t = (clocks[u] as number) + 1000 + pick(119_000);
    if (rng.next() < 0.03) t += 35 * MINUTE + pick(55 * MINUTE);
    clocks[u] = t;
    const late = rng.next() < lateShare;
    const item = pick(items);
    const e: UserEvent = {
      eventId: `g${o.seed}-${i}`,
      userId: `user${u}`,
      type: TYPES[pick(TYPES.length)] as string,
      timestamp: late ? t - 1000 - pick(89_000) : t,
      itemId: `item${item}`,
    };
    if (rng.next() < 0.9) e.category = `cat${item % categories}`;
    if (rng.next() < 0.8) e.price = Math.round((5 + (item % 97) * 3.7) * 100) / 100;
    if (e.type === "purchase") e.value = e.price ?? 10;
    if (u % 7 === 0) e.sessionId = `sess${u}-${Math.floor(t / (45 * MINUTE))}`;
    if (u % 3 === 0) e.context = { timezoneOffsetMinutes: ((u % 24) - 12) * 60 } as FeatureMap;
    out.push(e);
  }
  return out;
}
