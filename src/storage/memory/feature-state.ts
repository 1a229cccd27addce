import type { UserEvent } from "../../core/types.js";
import { EMPTY_MAP, type FeatureSnapshot } from "../../features/feature-snapshot.js";
import { customWrites, F, type Write } from "../../features/feature-writes.js";
import type { FeaturesConfig } from "../../features/features-config.js";
import type { WindowEntry } from "../../features/window-entry.js";
import * as entries from "../../features/window-entry.js";
import * as layout from "./feature-fields.js";
import { SESSION_OFFSETS, SessionFieldsView, USER_OFFSETS, UserFieldsView } from "./feature-fields.js";

// Bound once to module constants: under tsx's transform every use of an imported binding is a getter call,
// which showed up as a tenth of the ingest profile.
const { EVENTS, FIRST, LAST_ACTIVE, LAST_OF_TYPE, LATEST, QUEUED, S_EVENTS, S_TYPE, SESSIONS, SLAST } = layout;
const { SSTART, STRIDE, TOUCHED, TZ, TZ_AT, builtinTypeIndex } = layout;
const { compareEntries, toEntry } = entries;

type Value = string | number;
type Extra = Map<string, Value> | undefined;

/** Rows per page of the slab: 1,024 users, 160 KiB. */
const PAGE_BITS = 10;
const PAGE_MASK = (1 << PAGE_BITS) - 1;

/** A user's handle: its row in the slab and what does not fit in doubles. The store maps user ids to these. */
export class UserSlot {
  sid: string | undefined = undefined;
  window: WindowEntry[] = [];
  userExtra: Extra = undefined;
  sessionExtra: Extra = undefined;
  windowed: Extra = undefined;
  constructor(
    readonly slot: number,
    /** The page holding the user's row of doubles, and the row's offset in it. */
    readonly row: Float64Array,
    readonly base: number,
  ) {}
}

/**
 * Every user's state in the memory backend: the in-process implementation of the state primitives declared
 * in `features/feature-writes.ts` (`storage/redis/feature-lua.ts` implements the same writes in Lua; the
 * contract suite checks both answer alike: keep the two in step). A user is a `UserSlot`: a row of doubles
 * in pages of Float64Arrays (layout in `feature-fields.ts`) plus its session id, its window (entries in
 * time order) and maps for fields outside the fixed layout (custom aggregates), created only when used.
 *
 * Two ways in, with one meaning: `apply(u, writes)` takes writes as data (`writesFor`), and
 * `applyEvent(u, e, config)` — the ingest path — performs the same built-in writes in the same order
 * directly on the row, without allocating write objects (issue 3's ingest goal); custom aggregates' writes,
 * when configured, still go through `apply`. `feature-state.test.ts` checks that both give identical reads.
 * One difference, unread by any aggregate: the fast path keeps no `last:<type>`/`n:<type>` for event types
 * outside the built-in four (Redis stores them in H and S; nothing computes with them).
 */
export class FeatureRows {
  /** Users' rows, PAGE_USERS rows a page (slot s: page s >>> PAGE_BITS, row s & PAGE_MASK). */
  private readonly pages: Float64Array[] = [];
  /** Window entries held over all users (for the store's byte estimate). */
  entries = 0;
  private free: number[] = [];
  private used = 0;
  /** Set by the session assignment: whether the event being applied belongs to the current session. */
  private inSession = true;

  /** A fresh, empty user. */
  alloc(): UserSlot {
    const slot = this.free.pop() ?? this.used++;
    const page = slot >>> PAGE_BITS;
    // A new page when the last is full: the rows already there never move (one Float64Array doubled and copied
    // held the event loop ~30 ms at 50k users under load, issue 12).
    if (page === this.pages.length) this.pages.push(new Float64Array(STRIDE << PAGE_BITS));
    const row = this.pages[page] as Float64Array;
    const base = (slot & PAGE_MASK) * STRIDE;
    row.fill(Number.NaN, base, base + STRIDE);
    row.fill(0, base + S_EVENTS, base + S_TYPE + 4);
    return new UserSlot(slot, row, base);
  }

  release(u: UserSlot): void {
    this.entries -= u.window.length;
    u.window = [];
    u.userExtra = u.sessionExtra = u.windowed = undefined;
    this.free.push(u.slot);
  }

  /** Records an applied event for LRU and idle expiry: wall-clock time and the store's sequence number. */
  touch(u: UserSlot, nowWall: number, seq: number): void {
    u.row[u.base + LAST_ACTIVE] = nowWall;
    u.row[u.base + TOUCHED] = seq;
  }

  lastActive(u: UserSlot): number {
    return u.row[u.base + LAST_ACTIVE] as number;
  }

  /** Whether the user had an event since it was last (re)queued; `requeue` marks it queued now. */
  stale(u: UserSlot): boolean {
    return u.row[u.base + TOUCHED] !== u.row[u.base + QUEUED];
  }

  requeue(u: UserSlot): void {
    u.row[u.base + QUEUED] = u.row[u.base + TOUCHED] as number;
  }

  /** Marks a new slot as queued at sequence number `seq`. */
  queuedAt(u: UserSlot, seq: number): void {
    u.row[u.base + QUEUED] = seq;
  }

  /** What `computeFeatures` reads for one user (views over the row; valid until the next write). */
  snapshot(u: UserSlot): FeatureSnapshot {
    return {
      window: u.window,
      user: new UserFieldsView(u.row, u.base, u.sid, u.userExtra),
      session: new SessionFieldsView(u.row, u.base, u.sessionExtra),
      windowed: u.windowed ?? EMPTY_MAP,
    };
  }

  /** `apply(u, writesFor(e, config))` without the write objects. */
  applyEvent(u: UserSlot, e: UserEvent, config: FeaturesConfig): void {
    const held = u.window.length;
    this.applyBuiltins(u, e, config);
    if (config.custom.length > 0) {
      const w: Write[] = [];
      for (const c of config.custom) customWrites(c, e, w);
      this.applyWrites(u, w);
    }
    this.entries += u.window.length - held;
  }

  private applyBuiltins(u: UserSlot, e: UserEvent, config: FeaturesConfig): void {
    const d = u.row;
    const b = u.base;
    const ts = e.timestamp;
    this.assignSession(u, ts, e.sessionId, config.sessionGap);
    // The window's newest entry is always at the user's latest time, so a later event is a plain append.
    const newest = !(ts <= (d[b + LATEST] as number));
    if (newest) d[b + LATEST] = ts; // max; NaN (unset) compares false
    if (!(ts >= (d[b + FIRST] as number))) d[b + FIRST] = ts; // min
    const events = d[b + EVENTS] as number;
    d[b + EVENTS] = Number.isNaN(events) ? 1 : events + 1;
    const ti = builtinTypeIndex(e.type);
    if (this.inSession) {
      d[b + S_EVENTS] = (d[b + S_EVENTS] as number) + 1;
      if (ti >= 0) d[b + S_TYPE + ti] = (d[b + S_TYPE + ti] as number) + 1;
    }
    if (ti >= 0 && !(ts <= (d[b + LAST_OF_TYPE + ti] as number))) d[b + LAST_OF_TYPE + ti] = ts;
    const tz = e.context?.timezoneOffsetMinutes;
    // last-value by event time: kept when ts >= the stored time (NaN: never set).
    if (typeof tz === "number" && Number.isFinite(tz) && !(ts < (d[b + TZ_AT] as number))) {
      d[b + TZ] = tz;
      d[b + TZ_AT] = ts;
    }
    const entry = toEntry(e);
    if (newest) {
      const w = u.window;
      w.push(entry);
      this.trimWindow(w, ts - config.windowDuration, config.windowSize);
    } else this.addToWindow(u, entry, config.windowSize, config.windowDuration);
  }

  apply(u: UserSlot, writes: readonly Write[]): void {
    const held = u.window.length;
    this.applyWrites(u, writes);
    this.entries += u.window.length - held;
  }

  private applyWrites(u: UserSlot, writes: readonly Write[]): void {
    for (const w of writes) {
      switch (w.op) {
        case "session":
          this.assignSession(u, w.ts, w.sid, w.gap);
          break;
        case "max": {
          const cur = this.getUser(u, w.field) as number | undefined;
          if (cur === undefined || w.value > cur) this.setUser(u, w.field, w.value);
          break;
        }
        case "min": {
          const cur = this.getUser(u, w.field) as number | undefined;
          if (cur === undefined || w.value < cur) this.setUser(u, w.field, w.value);
          break;
        }
        case "incr":
          if (w.scope === "user") {
            this.setUser(u, w.field, ((this.getUser(u, w.field) as number | undefined) ?? 0) + w.by);
          } else if (this.inSession) this.incrSession(u, w.field, w.by);
          break;
        case "last": {
          const at = this.getUser(u, `${w.field}@`) as number | undefined;
          if (at === undefined || w.ts >= at) {
            this.setUser(u, w.field, w.value);
            this.setUser(u, `${w.field}@`, w.ts);
          }
          break;
        }
        case "window":
          this.addToWindow(u, w.entry, w.maxLen, w.span);
          break;
        case "wincr":
          this.windowedIncr(u, w.field, w.ts, w.bucketMs, w.buckets, w.by);
          break;
      }
    }
  }

  private getUser(u: UserSlot, field: string): Value | undefined {
    return new UserFieldsView(u.row, u.base, u.sid, u.userExtra).get(field);
  }

  private setUser(u: UserSlot, field: string, value: Value): void {
    if (field === F.sid) {
      u.sid = String(value);
      return;
    }
    const off = USER_OFFSETS.get(field);
    if (off !== undefined && typeof value === "number") u.row[u.base + off] = value;
    else {
      u.userExtra ??= new Map();
      u.userExtra.set(field, value);
    }
  }

  private incrSession(u: UserSlot, field: string, by: number): void {
    const off = SESSION_OFFSETS.get(field);
    if (off !== undefined) {
      u.row[u.base + off] = (u.row[u.base + off] as number) + by;
      return;
    }
    u.sessionExtra ??= new Map();
    u.sessionExtra.set(field, ((u.sessionExtra.get(field) as number | undefined) ?? 0) + by);
  }

  private assignSession(u: UserSlot, ts: number, sid: string | undefined, gap: number): void {
    const d = u.row;
    const b = u.base;
    const cur = u.sid;
    const slast = d[b + SLAST] as number;
    const sstart = d[b + SSTART] as number;
    let start = false;
    if (cur === undefined) start = true;
    else if (ts >= slast) {
      if ((sid !== undefined && sid !== cur) || ts - slast > gap) start = true;
      else d[b + SLAST] = ts;
      this.inSession = true;
    } else {
      this.inSession = (sid === undefined || sid === cur) && ts >= sstart - gap;
      if (this.inSession && ts < sstart) d[b + SSTART] = ts;
    }
    if (start) {
      u.sid = sid ?? `s${Math.floor(ts)}`;
      d[b + SSTART] = ts;
      d[b + SLAST] = ts;
      const sessions = d[b + SESSIONS] as number;
      d[b + SESSIONS] = Number.isNaN(sessions) ? 1 : sessions + 1;
      d.fill(0, b + S_EVENTS, b + S_TYPE + 4); // a new session's counters (DEL of S in Redis)
      u.sessionExtra = undefined;
      this.inSession = true;
    }
  }

  private addToWindow(u: UserSlot, entry: WindowEntry, maxLen: number, span: number): void {
    const w = u.window;
    let i = w.length;
    // Usually an append; a late event walks back to its place in time order.
    while (i > 0 && compareEntries(w[i - 1] as WindowEntry, entry) > 0) i--;
    // An identical entry already there is not added again (as ZADD of an existing member in Redis).
    const prev = w[i - 1];
    const duplicate = prev !== undefined && prev.t === entry.t && compareEntries(prev, entry) === 0;
    if (!duplicate && i === w.length) w.push(entry);
    else if (!duplicate) w.splice(i, 0, entry);
    this.trimWindow(w, (u.row[u.base + LATEST] as number) - span, maxLen);
  }

  /** Drops entries older than `minT` (latest - span), then all but the newest `maxLen`. */
  private trimWindow(w: WindowEntry[], minT: number, maxLen: number): void {
    let drop = 0;
    while (drop < w.length && (w[drop] as WindowEntry).t < minT) drop++;
    drop = Math.max(drop, w.length - maxLen);
    if (drop === 1) w.shift();
    else if (drop > 0) w.splice(0, drop);
  }

  private windowedIncr(u: UserSlot, field: string, ts: number, bucketMs: number, buckets: number, by: number): void {
    const current = Math.floor((u.row[u.base + LATEST] as number) / bucketMs);
    const bucket = Math.floor(ts / bucketMs);
    if (bucket <= current - buckets) return;
    u.windowed ??= new Map();
    const m = u.windowed;
    const key = `${field}|${bucket}`;
    m.set(key, ((m.get(key) as number | undefined) ?? 0) + by);
    const prefix = `${field}|`;
    for (const k of m.keys()) {
      if (k.startsWith(prefix) && Number(k.slice(prefix.length)) <= current - buckets) m.delete(k);
    }
  }
}
