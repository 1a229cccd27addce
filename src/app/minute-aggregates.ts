import type { UserEvent } from "../core/types.js";
import type { DecisionRecord, RewardOutcome, RewardRecord } from "../decisions/decision-record.js";
import {
  type AttributionChanges,
  type AttributionMaps,
  exportAttribution,
  type FoldAttribution,
  importAttribution,
} from "./minute-attribution.js";
import { countedReward, seriesOf } from "./minute-counting.js";
import { SessionTable } from "./minute-sessions.js";
import { TrackedDecisions } from "./tracked-decisions.js";

export { countedReward, seriesOf } from "./minute-counting.js";

export const MINUTE_MS = 60_000;

/** One series' counts in one minute. Sessions (and what they bought) count in the minute they started. */
export interface MinuteCounts {
  decisions: number;
  /** Decisions with at least one counted reward (the click-through numerator). */
  rewardedDecisions: number;
  rewardSum: number;
  rewardCount: number;
  sessions: number;
  /** Sessions with at least one purchase. */
  conversions: number;
  revenue: number;
  /** Σ over sessions of (session revenue)², for the variance of revenue per session. */
  revenueSq: number;
}

export const COUNT_FIELDS = [
  "decisions",
  "rewardedDecisions",
  "rewardSum",
  "rewardCount",
  "sessions",
  "conversions",
  "revenue",
  "revenueSq",
] as const satisfies readonly (keyof MinuteCounts)[];

export function emptyCounts(): MinuteCounts {
  return {
    decisions: 0,
    rewardedDecisions: 0,
    rewardSum: 0,
    rewardCount: 0,
    sessions: 0,
    conversions: 0,
    revenue: 0,
    revenueSq: 0,
  };
}

/** A stored minute: its series (`policy:<id>`, `rollout:<id>:<arm>`), its start (epoch ms) and counts. */
export interface MinuteRow extends MinuteCounts {
  series: string;
  minute: number;
}

/**
 * What the fold consumes: the decision stream's entries as the engine announces them (app/engine-events.ts).
 * In one process they come from the engine's emitter; in a scaled deployment from the decision stream
 * (issue 13), the same entries in the same order per decision.
 */
export type AggregateEntry =
  | { kind: "decision"; record: DecisionRecord }
  | { kind: "reward"; reward: RewardRecord; outcome: RewardOutcome | undefined }
  | { kind: "events"; events: readonly UserEvent[] };

export interface AggregatorLimits {
  /** Minutes kept (older ones are dropped from memory and store). */
  retentionMs: number;
  /** How long a decision can still collect its reward: two reward windows (deferred activation + window). */
  rewardHorizonMs: number;
  /** A session idle this long is closed (a later purchase in it is not attributed). */
  sessionTtlMs: number;
  /** Most decisions and sessions remembered for attribution (oldest forgotten first). */
  maxTracked: number;
}

/** Item ids are validated ids (no control characters: events/event-schema.ts), so this never occurs in one. */
const ITEM_SEP = "\u001f";

/** Distinct series lists interned (policies × rollout arms are few); past it, lists are built per decision. */
const MAX_INTERNED_SERIES = 1024;

/**
 * A session's map key. Ids have no control characters (events/event-schema.ts), so a user's session without
 * an id is keyed by the user id itself (no string built per decision) and never collides with `user\0session`.
 */
const sessionKey = (userId: string, sessionId: string | undefined) =>
  sessionId ? `${userId}\u0000${sessionId}` : userId;

/**
 * Compact per-minute counts per policy and per rollout arm, as a fold over decision-stream entries:
 * `apply(entry)` changes only this object's state (no clock, no I/O), so one node's emitter or the stream's
 * consumer can drive it alike, and replaying the same entries gives the same counts.
 *
 * Attribution, as the rollout tracker (rollout/arm-tracker.ts) and the reward join (decisions/reward-join.ts)
 * count:
 * - a decision counts in the minute it was made; its counted rewards (accepted: activated, in window, not
 *   duplicate; with `earliest` aggregation only a slot's first) add to that minute, so a minute's CTR is the
 *   share of its decisions that were rewarded;
 * - a session (user, session id of the decision) counts once per series, in the minute of its first decision
 *   there; purchases (events of type purchase, value or else price) add to that session's start minute.
 *   A purchase finds its session by the decision it names, else by its session id, else the user's latest
 *   session. Exposure-based: purchases of users without a decision are not counted.
 * Bounded: minutes past the retention are dropped; decisions past the reward horizon and idle sessions are
 * forgotten (and past `maxTracked`, the oldest).
 */
export class MinuteAggregator {
  private readonly minutes = new Map<number, Map<string, MinuteRow>>();
  /**
   * What a decision keeps while it can still collect a reward (up to `maxTracked` live at once), as columns
   * (app/tracked-decisions.ts): its series list (interned: shared by every decision of a policy or arm), its
   * time, its shown item ids as one joined string (split only when a reward arrives) and its session key (the
   * very string that keys the session table).
   */
  private readonly decisions = new TrackedDecisions<readonly string[]>();
  /** Tracked sessions as columns (app/minute-sessions.ts), in the order they started. */
  private readonly sessions = new SessionTable();
  /**
   * A user's latest session when it has a session id; a user whose latest session has none is absent here
   * and found under its own id in `sessions` (most traffic: no Map entry per user).
   */
  private readonly latestSession = new Map<string, string>();
  /** Minutes changed since the last flush, by identity (no key strings built on the rank path). */
  private readonly dirty = new Set<MinuteRow>();
  /** Series lists by policy (and rollout arm), shared by the decisions that count in them. */
  private readonly internedSeries = new Map<string, readonly string[]>();
  /** Decisions or sessions forgotten before they could be completed (the tracking bound was reached). */
  forgotten = 0;
  /** Where the sliced idle-session sweep (`sweepSessions`) stands. */
  private sessionSweep: MapIterator<[string, number]> | undefined;
  /** What attribution state changed since the last `attribution()`, when recorded (the fold duty's deltas). */
  private changes: AttributionChanges | undefined;

  constructor(
    private readonly limits: AggregatorLimits,
    private readonly aggregation: "earliest" | "sum" = "earliest",
  ) {}

  apply(entry: AggregateEntry): void {
    if (entry.kind === "decision") this.onDecision(entry.record);
    else if (entry.kind === "reward") this.onReward(entry.reward, entry.outcome);
    else for (const e of entry.events) this.onEvent(e);
  }

  /** Restores stored minutes (at start); counts already in memory for the same minute are replaced. */
  restore(rows: Iterable<MinuteRow>): void {
    for (const { series, minute, ...counts } of rows) {
      this.seriesAt(minute).set(series, { series, minute, ...emptyCounts(), ...pickCounts(counts) });
    }
  }

  /** Minutes changed since the last call (to persist), and forgets that they changed. */
  takeDirty(): MinuteRow[] {
    const rows = [...this.dirty].map((r) => ({ ...r }));
    this.dirty.clear();
    return rows;
  }

  /** Marks minutes changed again (a flush that failed to write them). */
  markDirty(rows: readonly MinuteRow[]): void {
    for (const r of rows) {
      const stored = this.minutes.get(r.minute)?.get(r.series);
      if (stored) this.dirty.add(stored);
    }
  }

  /** Every minute in [from, to) of one series, oldest first. */
  range(series: string, from: number, to: number): MinuteRow[] {
    const out: MinuteRow[] = [];
    for (const [minute, bySeries] of this.minutes) {
      if (minute < from || minute >= to) continue;
      const c = bySeries.get(series);
      if (c) out.push({ ...c });
    }
    return out.sort((a, b) => a.minute - b.minute);
  }

  /** What the fold holds for attribution (each at most `maxTracked`), for /metrics and the bound's tests. */
  get tracked(): { decisions: number; sessions: number; latestSessions: number } {
    return { decisions: this.decisions.size, sessions: this.sessions.size, latestSessions: this.latestSession.size };
  }

  /** Records from now on which decisions, sessions and users' latest sessions change (`attribution(false)`). */
  recordChanges(): void {
    this.changes ??= { decisions: new Set(), sessions: new Set(), users: new Set() };
  }

  /**
   * The attribution state as plain data (minute-attribution.ts): all of it, or what changed since the last call
   * (with `recordChanges`; entries as they are now, not diffs). Starts a new record of changes either way.
   */
  attribution(all: boolean): FoldAttribution {
    const out = exportAttribution(this.attributionMaps(), all ? undefined : this.changes);
    if (this.changes) this.changes = { decisions: new Set(), sessions: new Set(), users: new Set() };
    return out;
  }

  /**
   * Applies a checkpoint's attribution part (a full first, then its deltas in order): an entry keeps the position
   * of its first appearance (the bound forgets the oldest first, as before the checkpoint), with its latest state.
   */
  restoreAttribution(part: FoldAttribution): void {
    importAttribution(this.attributionMaps(), part);
    this.boundDecisions(() => {});
    this.boundSessions(() => {});
  }

  private attributionMaps(): AttributionMaps {
    return { decisions: this.decisions, sessions: this.sessions, latestSession: this.latestSession };
  }

  /** Series with any minute in memory (policies and rollout arms). */
  seriesNames(): string[] {
    const names = new Set<string>();
    for (const bySeries of this.minutes.values()) for (const s of bySeries.keys()) names.add(s);
    return [...names].sort();
  }

  /**
   * Drops minutes past the retention and what can no longer be attributed; returns the oldest minute kept.
   * `sessionBudget`: sessions checked for idling out in this call (the rest by `sweepSessions`): sessions are in
   * the order they started, not the order they idle, so finding the idle ones walks all of them (100k at the
   * bound), too long for one turn of a serving process's event loop.
   */
  prune(now: number, sessionBudget = Number.POSITIVE_INFINITY): number {
    const oldest = Math.floor((now - this.limits.retentionMs) / MINUTE_MS) * MINUTE_MS;
    for (const [minute, bySeries] of this.minutes) {
      if (minute >= oldest) continue;
      for (const row of bySeries.values()) this.dirty.delete(row);
      this.minutes.delete(minute);
    }
    for (const [id, d] of this.decisions.entries()) {
      const at = this.decisions.atOf(d);
      if (at >= now - this.limits.rewardHorizonMs && this.decisions.size <= this.limits.maxTracked) break;
      this.decisions.delete(id);
    }
    if (sessionBudget === Number.POSITIVE_INFINITY) {
      this.sessionSweep = undefined;
      for (const [key, slot] of this.sessions.entries()) {
        if (this.sessions.lastSeenOf(slot) < now - this.limits.sessionTtlMs) this.dropSession(key, slot);
      }
    } else this.sweepSessions(now, sessionBudget);
    return oldest;
  }

  /**
   * Checks up to `max` sessions for idling out, from where the last call stopped (a Map iterator survives
   * deletes and sees entries added after it); true when it reached the end (the next call starts over).
   */
  sweepSessions(now: number, max: number): boolean {
    this.sessionSweep ??= this.sessions.entries();
    for (let checked = 0; checked < max; checked++) {
      const next = this.sessionSweep.next();
      if (next.done) {
        this.sessionSweep = undefined;
        return true;
      }
      const [key, slot] = next.value;
      if (this.sessions.lastSeenOf(slot) < now - this.limits.sessionTtlMs) this.dropSession(key, slot);
    }
    return false;
  }

  private onDecision(record: DecisionRecord): void {
    const minute = Math.floor(record.timestamp / MINUTE_MS) * MINUTE_MS;
    const series = this.seriesListOf(record);
    const key = sessionKey(record.userId, record.sessionId);
    const session = this.touchSession(key, record.userId, record.timestamp);
    for (const s of series) {
      this.bucket(minute, s).decisions++;
      if (!this.sessions.hasSeries(session, s)) {
        this.sessions.addSeries(session, s, minute);
        this.bucket(minute, s).sessions++;
      }
    }
    this.decisions.delete(record.decisionId);
    // join builds one flat string (a `+=` chain would keep a cons cell and the id per slot alive).
    const slotItems = record.slots.map((x) => x.itemId).join(ITEM_SEP);
    this.decisions.set(record.decisionId, series, record.timestamp, slotItems, key);
    this.changes?.decisions.add(record.decisionId);
    this.boundDecisions(() => this.forgotten++);
  }

  private onReward(reward: RewardRecord, outcome: RewardOutcome | undefined): void {
    const d = this.decisions.slotOf(reward.decisionId);
    if (d === undefined) return;
    const joined = this.decisions.slotItemsOf(d);
    const slotItems = joined === "" ? [] : joined.split(ITEM_SEP);
    const rewarded = this.decisions.rewardedSlots(d);
    const counted = countedReward(slotItems, rewarded, reward, outcome, this.aggregation);
    if (!counted) return;
    this.changes?.decisions.add(reward.decisionId);
    const minute = Math.floor(this.decisions.atOf(d) / MINUTE_MS) * MINUTE_MS;
    for (const s of this.decisions.groupOf(d)) {
      const b = this.bucket(minute, s);
      b.rewardSum += reward.value;
      b.rewardCount++;
      if (counted.firstForDecision) b.rewardedDecisions++;
    }
  }

  /** `seriesOf(record)`, interned per policy and rollout arm. */
  private seriesListOf(record: DecisionRecord): readonly string[] {
    const { policy, rollout } = record;
    const key = rollout ? `${policy.id}\u0000${rollout.id}\u0000${rollout.arm}` : policy.id;
    let series = this.internedSeries.get(key);
    if (!series) {
      series = Object.freeze(seriesOf(record));
      if (this.internedSeries.size < MAX_INTERNED_SERIES) this.internedSeries.set(key, series);
    }
    return series;
  }

  private onEvent(e: UserEvent): void {
    const key = this.sessionOfEvent(e);
    const session = key === undefined ? undefined : this.sessions.slotOf(key);
    if (session === undefined || key === undefined) return;
    this.sessions.seen(session, e.timestamp);
    this.changes?.sessions.add(key);
    if (e.type !== "purchase") return;
    const v = e.value ?? e.price ?? 0;
    this.sessions.purchase(session, v, (series, minute, before, first) => {
      const b = this.bucket(minute, series);
      b.revenue += v;
      // The session's square grows from r² to (r + v)²: exact incremental Σ r² (as arm-tracker.ts).
      b.revenueSq += (before + v) ** 2 - before ** 2;
      if (first) b.conversions++;
    });
  }

  private sessionOfEvent(e: UserEvent): string | undefined {
    const byDecision = e.decisionId === undefined ? undefined : this.decisions.slotOf(e.decisionId);
    const decisionSession = byDecision === undefined ? undefined : this.decisions.sessionOf(byDecision);
    if (decisionSession !== undefined && this.sessions.has(decisionSession)) return decisionSession;
    if (e.sessionId !== undefined) {
      const key = sessionKey(e.userId, e.sessionId);
      if (this.sessions.has(key)) return key;
    }
    return this.latestSession.get(e.userId) ?? (this.sessions.has(e.userId) ? e.userId : undefined);
  }

  /** The session's slot, opened when new. */
  private touchSession(key: string, userId: string, at: number): number {
    let s = this.sessions.slotOf(key);
    if (s === undefined) {
      s = this.sessions.open(key, userId, at);
      this.boundSessions(() => this.forgotten++);
    }
    this.sessions.seen(s, at);
    if (key === userId) this.latestSession.delete(userId);
    else this.latestSession.set(userId, key);
    if (this.changes) {
      this.changes.sessions.add(key);
      this.changes.users.add(userId);
    }
    return s;
  }

  private dropSession(key: string, slot: number): void {
    const userId = this.sessions.userIdOf(slot);
    this.sessions.delete(key);
    if (this.latestSession.get(userId) === key) this.latestSession.delete(userId);
  }

  /** Keeps the decisions at most `maxTracked` by forgetting the ones tracked first. */
  private boundDecisions(onDrop: () => void): void {
    while (this.decisions.size > this.limits.maxTracked) {
      this.decisions.delete(this.decisions.oldest() as string);
      onDrop();
    }
  }

  /** Keeps the sessions at most `maxTracked` by forgetting the ones that started first. */
  private boundSessions(onDrop: () => void): void {
    while (this.sessions.size > this.limits.maxTracked) {
      const key = this.sessions.oldest() as string;
      this.dropSession(key, this.sessions.slotOf(key)!);
      onDrop();
    }
  }

  private seriesAt(minute: number): Map<string, MinuteRow> {
    let bySeries = this.minutes.get(minute);
    if (!bySeries) {
      bySeries = new Map();
      this.minutes.set(minute, bySeries);
    }
    return bySeries;
  }

  private bucket(minute: number, series: string): MinuteRow {
    const bySeries = this.seriesAt(minute);
    let c = bySeries.get(series);
    if (!c) {
      c = { series, minute, ...emptyCounts() };
      bySeries.set(series, c);
    }
    this.dirty.add(c);
    return c;
  }
}

function pickCounts(source: Partial<MinuteCounts>): Partial<MinuteCounts> {
  const out: Partial<MinuteCounts> = {};
  for (const f of COUNT_FIELDS) if (typeof source[f] === "number") out[f] = source[f];
  return out;
}
