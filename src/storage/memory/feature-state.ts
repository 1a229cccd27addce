import { EMPTY_MAP, type FeatureSnapshot } from "../../features/feature-snapshot.js";
import { F, type Write } from "../../features/feature-writes.js";
import { compareEntries, type WindowEntry } from "../../features/window-entry.js";
import { FieldBag } from "./feature-fields.js";

/**
 * One user's state in the memory backend: the in-process implementation of the state primitives declared
 * in `features/feature-writes.ts`. `storage/redis/feature-lua.ts` implements the same writes in Lua; the
 * contract suite checks both store the same thing. Keep the two in step.
 */
export class UserFeatureState implements FeatureSnapshot {
  window: WindowEntry[] = [];
  user = new FieldBag("user");
  session = new FieldBag("session");
  /** Created on the first windowed write (only custom duration aggregates use it). */
  windowed: Map<string, string | number> = EMPTY_MAP as Map<string, string | number>;
  /** Wall-clock ms of the last applied event (LRU order and idle TTL). */
  lastActive = 0;
  /** The store's event sequence number at this user's last event, and when it was last (re)queued. */
  touched = 0;
  queued = 0;
  /** Set by the `session` write: whether the event being applied belongs to the current session. */
  private inSession = true;

  apply(writes: readonly Write[]): void {
    for (const w of writes) {
      switch (w.op) {
        case "session":
          this.assignSession(w.ts, w.sid, w.gap);
          break;
        case "max": {
          const cur = this.user.get(w.field) as number | undefined;
          if (cur === undefined || w.value > cur) this.user.set(w.field, w.value);
          break;
        }
        case "min": {
          const cur = this.user.get(w.field) as number | undefined;
          if (cur === undefined || w.value < cur) this.user.set(w.field, w.value);
          break;
        }
        case "incr": {
          if (w.scope === "session" && !this.inSession) break;
          const m = w.scope === "user" ? this.user : this.session;
          m.set(w.field, ((m.get(w.field) as number | undefined) ?? 0) + w.by);
          break;
        }
        case "last": {
          const at = this.user.get(`${w.field}@`) as number | undefined;
          if (at === undefined || w.ts >= at) {
            this.user.set(w.field, w.value);
            this.user.set(`${w.field}@`, w.ts);
          }
          break;
        }
        case "window":
          this.addToWindow(w.entry, w.maxLen, w.span);
          break;
        case "wincr":
          this.windowedIncr(w.field, w.ts, w.bucketMs, w.buckets, w.by);
          break;
      }
    }
  }

  private assignSession(ts: number, sid: string | undefined, gap: number): void {
    const cur = this.user.get(F.sid) as string | undefined;
    const slast = this.user.get(F.sessionLast) as number;
    const sstart = this.user.get(F.sessionStart) as number;
    let start = false;
    if (cur === undefined) start = true;
    else if (ts >= slast) {
      if ((sid !== undefined && sid !== cur) || ts - slast > gap) start = true;
      else this.user.set(F.sessionLast, ts);
      this.inSession = true;
    } else {
      this.inSession = (sid === undefined || sid === cur) && ts >= sstart - gap;
      if (this.inSession && ts < sstart) this.user.set(F.sessionStart, ts);
    }
    if (start) {
      this.user.set(F.sid, sid ?? `s${Math.floor(ts)}`);
      this.user.set(F.sessionStart, ts);
      this.user.set(F.sessionLast, ts);
      this.user.set(F.sessions, ((this.user.get(F.sessions) as number | undefined) ?? 0) + 1);
      this.session = new FieldBag("session");
      this.inSession = true;
    }
  }

  private addToWindow(entry: WindowEntry, maxLen: number, span: number): void {
    const w = this.window;
    let i = w.length;
    // Usually an append; a late event walks back to its place in time order.
    while (i > 0 && compareEntries(w[i - 1] as WindowEntry, entry) > 0) i--;
    // An identical entry already there is not added again (as ZADD of an existing member in Redis).
    const duplicate = i > 0 && compareEntries(w[i - 1] as WindowEntry, entry) === 0;
    if (!duplicate && i === w.length) w.push(entry);
    else if (!duplicate) w.splice(i, 0, entry);
    this.trimWindow(maxLen, span);
  }

  private trimWindow(maxLen: number, span: number): void {
    const w = this.window;
    const minT = (this.user.get(F.latest) as number) - span;
    let drop = 0;
    while (drop < w.length && (w[drop] as WindowEntry).t < minT) drop++;
    drop = Math.max(drop, w.length - maxLen);
    if (drop > 0) w.splice(0, drop);
  }

  private windowedIncr(field: string, ts: number, bucketMs: number, buckets: number, by: number): void {
    const current = Math.floor((this.user.get(F.latest) as number) / bucketMs);
    const bucket = Math.floor(ts / bucketMs);
    if (bucket <= current - buckets) return;
    if (this.windowed === EMPTY_MAP) this.windowed = new Map();
    const key = `${field}|${bucket}`;
    this.windowed.set(key, ((this.windowed.get(key) as number | undefined) ?? 0) + by);
    const prefix = `${field}|`;
    for (const k of this.windowed.keys()) {
      if (k.startsWith(prefix) && Number(k.slice(prefix.length)) <= current - buckets) this.windowed.delete(k);
    }
  }
}
