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
   * Evicts over-cap and idle users from the front, requeueing those active since they were queued; stops at the
   * first user that must stay (true) or after `budget` users visited (false: the sweep goes on at the next apply).
   * Bounded because a sweep's requeues pile up: at saturation most of 50k users had an event within the last
   * second, so one sweep requeued them all (a Map delete and set each) and held the event loop 40-80 ms (issue 12).
   */
  const sweep = (nowWall: number, budget: number): boolean => {
    for (const [id, slot] of users) {
      if (budget-- <= 0) return false;
      const over = overCap();
      const idle = nowWall - rows.lastActive(slot) > config.idleTtl;
      const stale = rows.stale(slot); // active since it was queued: its place is further back
      if (!over && !idle && !stale) return true;
      if (idle || (over && !stale)) {
        drop(id, slot);
        continue;
      }
      users.delete(id);
      rows.requeue(slot);
      users.set(id, slot);
    }
    return true;
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
    // The idle sweep starts at most once per second of wall clock (an idle user is already invisible to reads);
    // an over-cap store sweeps at every apply. Either continues over the next applies until it is done.
    if (sweeping || overCap() || nowWall - lastIdleSweep >= 1000) {
      if (!sweeping) lastIdleSweep = nowWall;
      sweeping = !sweep(nowWall, sweepBudget(events.length));
    }
  };

  let lastIdleSweep = Number.NEGATIVE_INFINITY;
  /** A sweep ran out of its budget and goes on at the next apply. */
  let sweeping = false;

  const readSync = (userId: string, now: number): UserFeatures => {
    const slot = live(userId, clock.now());
    return computeFeatures(userId, slot === undefined ? EMPTY_SNAPSHOT : rows.snapshot(slot), config, now);
  };

  const reset = async (): Promise<void> => {
    users = new Map();
    rows = new FeatureRows();
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
