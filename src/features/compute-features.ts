import { DAY, HOUR, MINUTE } from "../core/clock.js";
import { BUILTIN_EVENT_TYPES, type FeatureMap } from "../core/types.js";
import { customAggregates } from "./custom-aggregates.js";
import { EMPTY_MAP, type FeatureSnapshot, num, str } from "./feature-snapshot.js";
import type { FeatureStore, UserFeatures } from "./feature-store.js";
import { F } from "./feature-writes.js";
import type { FeaturesConfig } from "./features-config.js";
import type { WindowEntry } from "./window-entry.js";

/**
 * Aggregates from one user's stored state at `now`: the single place where features are computed, shared
 * by every backend so they answer identically. Names are stable (the encoder and the decision log use them):
 *
 * user:      events_total, sessions_total, returning_user (1 when a session preceded the current one),
 *            days_since_first_seen
 * session:   (the current session; none when its last event is more than the session gap before `now`:
 *            then session values are 0, sessionId is absent and sessionItems is empty)
 *            session_events, session_seconds (first to last event), seconds_since_session_start,
 *            session_count_<type> for view|click|add_to_cart|purchase (exact, via counters; the session may
 *            be longer than the window), session_ctr = session clicks / session views (0 without views;
 *            clicks without a view in the session can make it exceed 1)
 * window:    window_events, window_count_<type>, window_distinct_items, window_distinct_categories
 *            (the window = last N events and last T before `now`)
 * recency:   secs_since_last_<type> for the four built-in types; -1 when the user never had one
 * sequence:  last_category_0..k-1 and last_item_0..k-1: the last k distinct categories / items of `view`
 *            events in the window, most recent first; "" when fewer
 * price:     view_price_count, view_price_mean, view_price_min, view_price_max, view_price_std (population
 *            std) over `view` events with a price in the window; 0 when none
 * affinity:  a category's affinity is the sum over its events in the window of weight(type) ×
 *            2^(-age / halfLife) (weights: view 1, click 2, add_to_cart 3, purchase 5, other 1);
 *            affinity_category_0..2 are the three highest ("" when fewer), affinity_score_0..2 their scores.
 *            (Only the top three: an open family of names per category would give every user's map a
 *            different shape, slow in V8 and unstable for the encoder.)
 * local time: local_hour (0–23), local_weekday (0 = Sunday) of `now` in the user's time zone, taken from the
 *            latest event's context.timezoneOffsetMinutes (minutes east of UTC); tz_known is 0 (and the time
 *            UTC) when no event carried it
 * custom:    custom_<name> for each configured aggregate (see features-config.ts)
 */
// Names built once: a template string per read would be a fresh string to hash on every property store.
const names = (prefix: string, keys: readonly (string | number)[]): string[] => keys.map((k) => `${prefix}${k}`);
const SESSION_COUNT = names("session_count_", BUILTIN_EVENT_TYPES);
const WINDOW_COUNT = names("window_count_", BUILTIN_EVENT_TYPES);
const SECS_SINCE = names("secs_since_last_", BUILTIN_EVENT_TYPES);
const LAST_TYPE_FIELDS = BUILTIN_EVENT_TYPES.map(F.lastOfType);
const SESSION_TYPE_FIELDS = BUILTIN_EVENT_TYPES.map(F.sessionType);
const upTo50 = Array.from({ length: 50 }, (_, i) => i);
const LAST_CATEGORY = names("last_category_", upTo50);
const LAST_ITEM = names("last_item_", upTo50);
const TOP_AFFINITIES = 3;
const AFFINITY_CATEGORY = [0, 1, 2].map((i) => `affinity_category_${i}`);
const AFFINITY_SCORE = [0, 1, 2].map((i) => `affinity_score_${i}`);

export const AFFINITY_WEIGHTS: Readonly<Record<string, number>> = { view: 1, click: 2, add_to_cart: 3, purchase: 5 };

interface WindowStats {
  counts: Record<string, number>;
  items: Set<string>;
  cats: Set<string>;
  lastCats: string[];
  lastItems: string[];
  prices: number[];
  affinity: Map<string, number>;
}

export function computeFeatures(userId: string, s: FeatureSnapshot, config: FeaturesConfig, now: number): UserFeatures {
  const known = s.user.get(F.latest) !== undefined;
  // A session whose last event is more than the gap ago is over: the next event starts a new one.
  const slast = num(s.user, F.sessionLast);
  const active = slast !== undefined && now - slast <= config.sessionGap;
  const sid = active ? str(s.user, F.sid) : undefined;
  const sstart = active ? (num(s.user, F.sessionStart) as number) : now;
  const win = windowOf(s.window, now - config.windowDuration);
  const session = active ? win.filter((e) => e.t >= sstart && (e.sid === undefined || e.sid === sid)) : [];
  const a: FeatureMap = {};
  userAggregates(a, s, now);
  sessionAggregates(a, active ? s : { ...s, session: EMPTY_MAP }, now, sstart, active);
  const stats = scanWindow(win, config, now);
  windowAggregates(a, win, stats, config.k);
  recencyAggregates(a, s, now);
  localTime(a, s, now);
  customAggregates(a, config.custom, s, win, session, sstart, now);
  const out: UserFeatures = { userId, known, aggregates: a, sessionItems: [] };
  if (sid !== undefined) out.sessionId = sid;
  for (const e of session) if (e.item !== undefined) out.sessionItems.push(e.item);
  return out;
}

/** The window's entries at `now`: at or after `from` (entries are in time order). */
function windowOf(window: readonly WindowEntry[], from: number): readonly WindowEntry[] {
  let i = 0;
  while (i < window.length && (window[i] as WindowEntry).t < from) i++;
  return i === 0 ? window : window.slice(i);
}

function userAggregates(a: FeatureMap, s: FeatureSnapshot, now: number): void {
  a.events_total = num(s.user, F.events) ?? 0;
  const sessions = num(s.user, F.sessions) ?? 0;
  a.sessions_total = sessions;
  a.returning_user = sessions > 1 ? 1 : 0;
  const first = num(s.user, F.first);
  a.days_since_first_seen = first === undefined ? 0 : Math.max(0, now - first) / DAY;
}

function sessionAggregates(a: FeatureMap, s: FeatureSnapshot, now: number, sstart: number, active: boolean): void {
  a.session_events = num(s.session, F.events) ?? 0;
  a.session_seconds = active ? Math.max(0, (num(s.user, F.sessionLast) ?? sstart) - sstart) / 1000 : 0;
  a.seconds_since_session_start = active ? Math.max(0, now - sstart) / 1000 : 0;
  for (let i = 0; i < SESSION_COUNT.length; i++) {
    a[SESSION_COUNT[i] as string] = num(s.session, SESSION_TYPE_FIELDS[i] as string) ?? 0;
  }
  const views = a.session_count_view as number;
  a.session_ctr = views > 0 ? (a.session_count_click as number) / views : 0;
}

/** One pass, newest first, collecting everything the window aggregates need. */
function scanWindow(win: readonly WindowEntry[], config: FeaturesConfig, now: number): WindowStats {
  const st: WindowStats = {
    counts: {},
    items: new Set(),
    cats: new Set(),
    lastCats: [],
    lastItems: [],
    prices: [],
    affinity: new Map(),
  };
  const seenCats = new Set<string>();
  const seenItems = new Set<string>();
  for (let i = win.length - 1; i >= 0; i--) {
    const e = win[i] as WindowEntry;
    st.counts[e.type] = (st.counts[e.type] ?? 0) + 1;
    if (e.item !== undefined) st.items.add(e.item);
    if (e.cat !== undefined) {
      st.cats.add(e.cat);
      const decay = 2 ** (-Math.max(0, now - e.t) / config.affinityHalfLife);
      st.affinity.set(e.cat, (st.affinity.get(e.cat) ?? 0) + (AFFINITY_WEIGHTS[e.type] ?? 1) * decay);
    }
    if (e.type !== "view") continue;
    if (e.price !== undefined) st.prices.push(e.price);
    if (e.cat !== undefined && !seenCats.has(e.cat) && st.lastCats.length < config.k) {
      seenCats.add(e.cat);
      st.lastCats.push(e.cat);
    }
    if (e.item !== undefined && !seenItems.has(e.item) && st.lastItems.length < config.k) {
      seenItems.add(e.item);
      st.lastItems.push(e.item);
    }
  }
  return st;
}

function windowAggregates(a: FeatureMap, win: readonly WindowEntry[], st: WindowStats, k: number): void {
  a.window_events = win.length;
  for (let i = 0; i < WINDOW_COUNT.length; i++) {
    a[WINDOW_COUNT[i] as string] = st.counts[BUILTIN_EVENT_TYPES[i] as string] ?? 0;
  }
  a.window_distinct_items = st.items.size;
  a.window_distinct_categories = st.cats.size;
  for (let i = 0; i < k; i++) a[LAST_CATEGORY[i] as string] = st.lastCats[i] ?? "";
  for (let i = 0; i < k; i++) a[LAST_ITEM[i] as string] = st.lastItems[i] ?? "";
  const p = st.prices;
  const n = p.length;
  let sum = 0;
  let min = n > 0 ? Number.POSITIVE_INFINITY : 0;
  let max = n > 0 ? Number.NEGATIVE_INFINITY : 0;
  for (const x of p) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = n > 0 ? sum / n : 0;
  let sq = 0;
  for (const x of p) sq += (x - mean) * (x - mean);
  Object.assign(a, { view_price_count: n, view_price_mean: mean, view_price_min: min, view_price_max: max });
  a.view_price_std = n > 0 ? Math.sqrt(sq / n) : 0;
  topAffinities(a, st.affinity);
}

/**
 * The three highest-affinity categories: affinity_category_0..2 ("" when fewer) and affinity_score_0..2.
 * Ties go to the smaller category id (string order) so the answer does not depend on arrival order.
 */
function topAffinities(a: FeatureMap, affinity: ReadonlyMap<string, number>): void {
  const top: [string, number][] = [];
  for (const [cat, v] of affinity) {
    let i = top.length;
    while (
      i > 0 &&
      ((top[i - 1] as [string, number])[1] < v ||
        ((top[i - 1] as [string, number])[1] === v && (top[i - 1] as [string, number])[0] > cat))
    )
      i--;
    if (i < TOP_AFFINITIES) {
      top.splice(i, 0, [cat, v]);
      if (top.length > TOP_AFFINITIES) top.pop();
    }
  }
  for (let i = 0; i < TOP_AFFINITIES; i++) {
    a[AFFINITY_CATEGORY[i] as string] = top[i]?.[0] ?? "";
    a[AFFINITY_SCORE[i] as string] = top[i]?.[1] ?? 0;
  }
}

function recencyAggregates(a: FeatureMap, s: FeatureSnapshot, now: number): void {
  for (let i = 0; i < SECS_SINCE.length; i++) {
    const last = num(s.user, LAST_TYPE_FIELDS[i] as string);
    a[SECS_SINCE[i] as string] = last === undefined ? -1 : Math.max(0, now - last) / 1000;
  }
}

function localTime(a: FeatureMap, s: FeatureSnapshot, now: number): void {
  const tz = num(s.user, F.tz);
  const local = now + (tz ?? 0) * MINUTE;
  a.local_hour = Math.floor((((local % DAY) + DAY) % DAY) / HOUR);
  // 1970-01-01 was a Thursday (4).
  a.local_weekday = (((Math.floor(local / DAY) + 4) % 7) + 7) % 7;
  a.tz_known = tz === undefined ? 0 : 1;
}

/** A store that can also answer synchronously (the memory backend). */
export interface SyncFeatureStore extends FeatureStore {
  readSync(userId: string, now: number): UserFeatures;
}
