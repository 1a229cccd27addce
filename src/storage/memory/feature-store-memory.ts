import { type Clock, systemClock } from "../../core/clock.js";
import type { UserEvent } from "../../core/types.js";
import { computeFeatures, type SyncFeatureStore } from "../../features/compute-features.js";
import { EMPTY_SNAPSHOT } from "../../features/feature-snapshot.js";
import type { UserFeatures } from "../../features/feature-store.js";
import type { FeaturesConfig } from "../../features/features-config.js";
import { STRIDE } from "./feature-fields.js";
import { FeatureRows, type UserSlot } from "./feature-state.js";

/**
 * The byte estimate's unit costs (V8, 64-bit, measured from heap snapshots' shallow sizes): a user is its row
 * of doubles, its UserSlot, its Map entry and id string; a window entry is an 8-property object, its event id
 * and item id strings and its array slot.
 */
export const USER_BYTES = STRIDE * 8 + 200;
export const ENTRY_BYTES = 170;

/**
 * Users a sweep visits per apply of `events` events. Each event makes at most one user stale (one later requeue)
 * and adds at most one user (one later eviction), so a budget of a few per event plus a floor drains any backlog
 * within a few applies: the store may sit over its caps by about a batch for those applies, never more.
 */
export function sweepBudget(events: number): number {
  return 256 + 4 * events;
}

export interface MemoryFeatureStore extends SyncFeatureStore {
  /** Resident users (after expiry and eviction). */
  size(): number;
  /** Estimated bytes held (users' rows and window entries), capped by `maxBytes`. */
  bytes(): number;
  /** Users evicted by the maxUsers cap or the idle TTL since creation. */
  evictions(): number;
}

/**
 * The default, in-process feature store. Bounded: beyond `maxUsers`, or beyond `maxBytes` of estimated state,
 * the least recently active user (wall clock of its last applied event, from `clock`) is evicted, and users idle longer than `idleTtl` are swept
 * and read as unknown. Reads do not count as activity, as in Redis where a read does not refresh expiry.
 *
 * LRU without reordering on every event: each event gets a sequence number (`touched`); the Map is in
 * (re)queue order; the front user is evicted only if it had no event since it was queued (touched ===
 * queued), otherwise it is requeued at the back. Amortised O(1), no Map churn on the ingest path. Near LRU, not
 * exact: a user requeued by a sweep goes behind users queued (first seen) after its last event, so one of those
 * can go first (found in issue 12's stop 26; the pre-existing order, kept).
 */
export function createMemoryFeatureStore(config: FeaturesConfig, clock: Clock = systemClock): MemoryFeatureStore {
  let rows = new FeatureRows();
  let users = new Map<string, UserSlot>();
  let evicted = 0;
  let seq = 0;
  const drop = (userId: string, slot: UserSlot): void => {
    users.delete(userId);
    rows.release(slot);
    evicted++;
  };

  const bytes = (): number => users.size * USER_BYTES + rows.entries * ENTRY_BYTES;
  const overCap = (): boolean => users.size > config.maxUsers || bytes() > config.maxBytes;

  /**
   * One sweep pass: evicts over-cap and idle users from the front, requeueing those active since they were queued,
   * until the first user that must stay, or until it has visited every user it found (`passLeft`, so a user it
   * requeued and that had an event since is not requeued again by the same pass). A pass is spread over applies,
   * `budget` users a call: at saturation most of 50k users had an event within the last second, so one pass
   * requeued them all (a Map delete and set each) and held the event loop 40-80 ms (issue 12).
   */
  const sweep = (nowWall: number, budget: number): void => {
    for (const [id, slot] of users) {
      if (budget-- <= 0) return;
      if (passLeft-- <= 0) break;
      const over = overCap();
      const idle = nowWall - rows.lastActive(slot) > config.idleTtl;
      const stale = rows.stale(slot); // active since it was queued: its place is further back
      if (!over && !idle && !stale) break;
      if (idle || (over && !stale)) {
        drop(id, slot);
        continue;
      }
      users.delete(id);
      rows.requeue(slot);
      users.set(id, slot);
    }
    passLeft = 0;
  };

  const live = (userId: string, nowWall: number): UserSlot | undefined => {
    const slot = users.get(userId);
    if (slot !== undefined && nowWall - rows.lastActive(slot) > config.idleTtl) {
      drop(userId, slot);
      return undefined;
    }
    return slot;
  };

  const applySync = (events: readonly UserEvent[]): void => {
    const nowWall = clock.now();
    for (const e of events) {
      let slot = live(e.userId, nowWall);
      if (slot === undefined) {
        slot = rows.alloc();
        rows.queuedAt(slot, seq + 1);
        users.set(e.userId, slot);
      }
      rows.touch(slot, nowWall, ++seq);
      rows.applyEvent(slot, e, config);
    }
    // A pass starts at most once per second of wall clock for idle users (an idle user is already invisible to
    // reads), and at every apply that finds the store over a cap; a pass goes on over the next applies until done.
    if (passLeft === 0 && (overCap() || nowWall - lastIdleSweep >= 1000)) {
      lastIdleSweep = nowWall;
      passLeft = users.size + 1;
    }
    if (passLeft > 0) sweep(nowWall, sweepBudget(events.length));
  };

  let lastIdleSweep = Number.NEGATIVE_INFINITY;
  /** Users the running sweep pass may still visit; 0 when no pass is running. */
  let passLeft = 0;

  const readSync = (userId: string, now: number): UserFeatures => {
    const slot = live(userId, clock.now());
    return computeFeatures(userId, slot === undefined ? EMPTY_SNAPSHOT : rows.snapshot(slot), config, now);
  };

  const reset = async (): Promise<void> => {
    users = new Map();
    rows = new FeatureRows();
    passLeft = 0;
  };

  return {
    config,
    apply: async (events) => applySync(events),
    read: async (userId, now) => readSync(userId, now),
    readSync,
    clear: reset,
    close: reset,
    size: () => users.size,
    bytes,
    evictions: () => evicted,
  };
}
