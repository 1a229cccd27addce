import * as clock from "../core/clock.js";
import type { FeatureMap } from "../core/types.js";
import * as types from "../core/types.js";
import * as customs from "./custom-aggregates.js";
import type { FeatureSnapshot } from "./feature-snapshot.js";
import * as snapshots from "./feature-snapshot.js";
import type { FeatureStore, UserFeatures } from "./feature-store.js";
import * as writes from "./feature-writes.js";
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
// Imported bindings bound once: under tsx's transform each use of an import is a getter call (the read path
// is profiled in bench/features.bench.ts; see the issue 3 note).
const { DAY, HOUR, MINUTE } = clock;
const { BUILTIN_EVENT_TYPES } = types;
const { customAggregates } = customs;
const { EMPTY_MAP, num, str } = snapshots;
const { F } = writes;
const F_LATEST = F.latest;
const F_SID = F.sid;
const F_SSTART = F.sessionStart;
const F_SLAST = F.sessionLast;
const F_EVENTS = F.events;
const F_SESSIONS = F.sessions;
const F_FIRST = F.first;
const F_TZ = F.tz;

// Names built once: a template string per read would be a fresh string to hash on every property store.
const names = (prefix: string, keys: readonly (string | number)[]): string[] => keys.map((k) => `${prefix}${k}`);
const LAST_TYPE_FIELDS = BUILTIN_EVENT_TYPES.map(F.lastOfType);
const SESSION_TYPE_FIELDS = BUILTIN_EVENT_TYPES.map(F.sessionType);
const upTo50 = Array.from({ length: 50 }, (_, i) => i);
const LAST_CATEGORY = names("last_category_", upTo50);
const LAST_ITEM = names("last_item_", upTo50);
const TOP_AFFINITIES = 3;

export const AFFINITY_WEIGHTS: Readonly<Record<string, number>> = { view: 1, click: 2, add_to_cart: 3, purchase: 5 };

/**
 * Distinct strings of one scan: a linear list for small windows (most users hold a handful of events, and
 * clearing a Set allocates a new table), a Set beyond SMALL_WINDOW entries.
 */
class Distinct {
  private list: string[] = [];
  private set = new Set<string>();
  private big = false;
  size = 0;
  reset(big: boolean): void {
    this.list.length = 0;
    if (this.set.size > 0) this.set.clear();
    this.big = big;
    this.size = 0;
  }
  add(x: string): void {
    if (this.big) {
      this.set.add(x);
      this.size = this.set.size;
    } else if (!this.list.includes(x)) {
      this.list.push(x);
      this.size++;
    }
  }
}

/** Per-category sums in first-seen order: parallel arrays for small windows, a Map beyond. */
class CategorySums {
  cats: string[] = [];
  sums: number[] = [];
  private index = new Map<string, number>();
  private big = false;
  reset(big: boolean): void {
    this.cats.length = 0;
    this.sums.length = 0;
    if (this.index.size > 0) this.index.clear();
    this.big = big;
  }
  add(cat: string, v: number): void {
    const i = this.big ? (this.index.get(cat) ?? -1) : this.cats.indexOf(cat);
    if (i >= 0) this.sums[i] = (this.sums[i] as number) + v;
    else {
      if (this.big) this.index.set(cat, this.cats.length);
      this.cats.push(cat);
      this.sums.push(v);
    }
  }
}

const SMALL_WINDOW = 24;

/**
 * What one pass over the window collects. One instance, reused by every read (reads are synchronous, so
 * no two use it at once): nothing is allocated per read once the arrays have grown.
 */
class WindowScan {
  view = 0;
  click = 0;
  cart = 0;
  purchase = 0;
  items = new Distinct();
  cats = new Distinct();
  lastCats: string[] = [];
  lastItems: string[] = [];
  prices: number[] = [];
  affinity = new CategorySums();

  reset(size: number): void {
    const big = size > SMALL_WINDOW;
    this.view = this.click = this.cart = this.purchase = 0;
    this.items.reset(big);
    this.cats.reset(big);
    this.lastCats.length = 0;
    this.lastItems.length = 0;
    this.prices.length = 0;
    this.affinity.reset(big);
  }
}
const scan = new WindowScan();

export function computeFeatures(userId: string, s: FeatureSnapshot, config: FeaturesConfig, now: number): UserFeatures {
  const u = s.user;
  const known = u.get(F_LATEST) !== undefined;
  // A session whose last event is more than the gap ago is over: the next event starts a new one.
  const slast = num(u, F_SLAST);
  const active = slast !== undefined && now - slast <= config.sessionGap;
  const sid = active ? str(u, F_SID) : undefined;
  const sstart = active ? (num(u, F_SSTART) as number) : now;
  const all = s.window;
  // The window at `now`: entries at or after now - T (entries are in time order).
  const from = now - config.windowDuration;
  let w0 = 0;
  while (w0 < all.length && (all[w0] as WindowEntry).t < from) w0++;
  const sessionItems: string[] = [];
  const session: WindowEntry[] = []; // the session's entries: only custom aggregates need them
  const keepSession = config.custom.length > 0;
  if (active) {
    for (let i = w0; i < all.length; i++) {
      const e = all[i] as WindowEntry;
      if (e.t < sstart || (e.sid !== undefined && e.sid !== sid)) continue;
      if (keepSession) session.push(e);
      if (e.item !== undefined) sessionItems.push(e.item);
    }
  }
  scanWindow(all, w0, config, now);
  const a = baseAggregates(s, now, active, sstart);
  a.window_events = all.length - w0;
  windowAggregates(a, config.k);
  if (config.custom.length > 0) {
    const win = w0 === 0 ? all : all.slice(w0);
    customAggregates(a, config.custom, s, win, session, sstart, now);
  }
  const out: UserFeatures = { userId, known, aggregates: a, sessionItems };
  if (sid !== undefined) out.sessionId = sid;
  return out;
}

/**
 * The user, session, recency and local-time aggregates, in one object literal: every map gets the same
 * hidden class with its fields in-object (adding ~60 properties one by one grew the backing store each time).
 */
function baseAggregates(s: FeatureSnapshot, now: number, active: boolean, sstart: number): FeatureMap {
  const u = s.user;
  const ss = active ? s.session : EMPTY_MAP;
  const sessions = num(u, F_SESSIONS) ?? 0;
  const first = num(u, F_FIRST);
  const views = num(ss, SESSION_TYPE_FIELDS[0] as string) ?? 0;
  const clicks = num(ss, SESSION_TYPE_FIELDS[1] as string) ?? 0;
  const tz = num(u, F_TZ);
  const local = now + (tz ?? 0) * MINUTE;
  return {
    events_total: num(u, F_EVENTS) ?? 0,
    sessions_total: sessions,
    returning_user: sessions > 1 ? 1 : 0,
    days_since_first_seen: first === undefined ? 0 : Math.max(0, now - first) / DAY,
    session_events: num(ss, F_EVENTS) ?? 0,
    session_seconds: active ? Math.max(0, (num(u, F_SLAST) ?? sstart) - sstart) / 1000 : 0,
    seconds_since_session_start: active ? Math.max(0, now - sstart) / 1000 : 0,
    session_count_view: views,
    session_count_click: clicks,
    session_count_add_to_cart: num(ss, SESSION_TYPE_FIELDS[2] as string) ?? 0,
    session_count_purchase: num(ss, SESSION_TYPE_FIELDS[3] as string) ?? 0,
    session_ctr: views > 0 ? clicks / views : 0,
    window_events: 0,
    window_count_view: scan.view,
    window_count_click: scan.click,
    window_count_add_to_cart: scan.cart,
    window_count_purchase: scan.purchase,
    window_distinct_items: scan.items.size,
    window_distinct_categories: scan.cats.size,
    secs_since_last_view: secsSince(u, 0, now),
    secs_since_last_click: secsSince(u, 1, now),
    secs_since_last_add_to_cart: secsSince(u, 2, now),
    secs_since_last_purchase: secsSince(u, 3, now),
    local_hour: Math.floor((((local % DAY) + DAY) % DAY) / HOUR),
    // 1970-01-01 was a Thursday (4).
    local_weekday: (((Math.floor(local / DAY) + 4) % 7) + 7) % 7,
    tz_known: tz === undefined ? 0 : 1,
    // Filled by windowAggregates; declared here so they are in-object too.
    view_price_count: 0,
    view_price_mean: 0,
    view_price_min: 0,
    view_price_max: 0,
    view_price_std: 0,
    affinity_category_0: "",
    affinity_category_1: "",
    affinity_category_2: "",
    affinity_score_0: 0,
    affinity_score_1: 0,
    affinity_score_2: 0,
  };
}

function secsSince(u: FeatureSnapshot["user"], type: number, now: number): number {
  const last = num(u, LAST_TYPE_FIELDS[type] as string);
  return last === undefined ? -1 : Math.max(0, now - last) / 1000;
}

function affinityWeight(type: string): number {
  switch (type) {
    case "click":
      return 2;
    case "add_to_cart":
      return 3;
    case "purchase":
      return 5;
    default:
      return 1; // view and any other type (AFFINITY_WEIGHTS)
  }
}

/** One pass over window[from..], newest first, collecting everything the window aggregates need. */
function scanWindow(win: readonly WindowEntry[], from: number, config: FeaturesConfig, now: number): void {
  const st = scan;
  st.reset(win.length - from);
  const k = config.k;
  const halfLife = config.affinityHalfLife;
  let seenCats = 0;
  let seenItems = 0;
  for (let i = win.length - 1; i >= from; i--) {
    const e = win[i] as WindowEntry;
    const type = e.type;
    const isView = type === "view";
    if (isView) st.view++;
    else if (type === "click") st.click++;
    else if (type === "add_to_cart") st.cart++;
    else if (type === "purchase") st.purchase++;
    if (e.item !== undefined) st.items.add(e.item);
    if (e.cat !== undefined) {
      const cat = e.cat;
      // lastCats holds view categories in first-seen order, newest first: a view's category not yet in it.
      if (isView && seenCats < k && !st.lastCats.includes(cat)) {
        st.lastCats.push(cat);
        seenCats++;
      }
      st.cats.add(cat);
      const decay = 2 ** (-Math.max(0, now - e.t) / halfLife);
      st.affinity.add(cat, affinityWeight(type) * decay);
    }
    if (!isView) continue;
    if (e.price !== undefined) st.prices.push(e.price);
    if (e.item !== undefined && seenItems < k && !st.lastItems.includes(e.item)) {
      st.lastItems.push(e.item);
      seenItems++;
    }
  }
}

function windowAggregates(a: FeatureMap, k: number): void {
  const st = scan;
  for (let i = 0; i < k; i++) a[LAST_CATEGORY[i] as string] = st.lastCats[i] ?? "";
  for (let i = 0; i < k; i++) a[LAST_ITEM[i] as string] = st.lastItems[i] ?? "";
  const p = st.prices;
  const n = p.length;
  let sum = 0;
  let min = n > 0 ? Number.POSITIVE_INFINITY : 0;
  let max = n > 0 ? Number.NEGATIVE_INFINITY : 0;
  for (let i = 0; i < n; i++) {
    const x = p[i] as number;
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = n > 0 ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += ((p[i] as number) - mean) * ((p[i] as number) - mean);
  a.view_price_count = n;
  a.view_price_mean = mean;
  a.view_price_min = min;
  a.view_price_max = max;
  a.view_price_std = n > 0 ? Math.sqrt(sq / n) : 0;
  topAffinities(a, st.affinity);
}

/**
 * The three highest-affinity categories: affinity_category_0..2 ("" when fewer) and affinity_score_0..2.
 * Ties go to the smaller category id (string order) so the answer does not depend on arrival order.
 */
function topAffinities(a: FeatureMap, affinity: CategorySums): void {
  let c0 = "";
  let c1 = "";
  let c2 = "";
  let v0 = 0;
  let v1 = 0;
  let v2 = 0;
  let n = 0;
  for (let i = 0; i < affinity.cats.length; i++) {
    const cat = affinity.cats[i] as string;
    const v = affinity.sums[i] as number;
    if (n < 1 || before(cat, v, c0, v0)) {
      c2 = c1;
      v2 = v1;
      c1 = c0;
      v1 = v0;
      c0 = cat;
      v0 = v;
    } else if (n < 2 || before(cat, v, c1, v1)) {
      c2 = c1;
      v2 = v1;
      c1 = cat;
      v1 = v;
    } else if (n < TOP_AFFINITIES || before(cat, v, c2, v2)) {
      c2 = cat;
      v2 = v;
    }
    n++;
  }
  a.affinity_category_0 = c0;
  a.affinity_category_1 = n > 1 ? c1 : "";
  a.affinity_category_2 = n > 2 ? c2 : "";
  a.affinity_score_0 = n > 0 ? v0 : 0;
  a.affinity_score_1 = n > 1 ? v1 : 0;
  a.affinity_score_2 = n > 2 ? v2 : 0;
}

/** Whether (c, v) ranks above (cx, vx): higher score, then the smaller category id. */
function before(c: string, v: number, cx: string, vx: number): boolean {
  return v > vx || (v === vx && c < cx);
}

/** A store that can also answer synchronously (the memory backend). */
export interface SyncFeatureStore extends FeatureStore {
  readSync(userId: string, now: number): UserFeatures;
}
