import { countedReward, MINUTE_MS } from "../app/minute-aggregates.js";
import { TrackedDecisions } from "../app/tracked-decisions.js";
import type { Clock } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import type { DecisionRecord, RewardOutcome, RewardRecord } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";

/**
 * Event types are open-ended (any lowercase custom name), so their counts are bounded (issue 14, defect 7):
 * at most TRACKED_EVENT_TYPES distinct types are counted by name, later new ones under OTHER_TYPE, and the
 * overview lists the top `EVENT_TYPES_SHOWN` with the rest summed under OTHER_TYPE. "(other)" cannot be an
 * event type (they are lowercase names), so it never collides with one.
 */
export const TRACKED_EVENT_TYPES = 1000;
export const EVENT_TYPES_SHOWN = 20;
export const OTHER_TYPE = "(other)";

/** Per policy, per minute: decisions made and what their rewards have joined so far. */
interface PolicyMinute {
  decisions: number;
  rewardedDecisions: number;
  rewardSum: number;
}

/** Item ids are validated ids (no control characters), so this separator never occurs inside one. */
const ITEM_SEP = "\u001f";

/** One line of the dashboard's "recent decisions" list. */
export interface RecentDecision {
  decisionId: string;
  at: number;
  userId: string;
  policy: { id: string; version: number };
  items: string[];
  /** Logged propensity of slot 0 (the exact probability it was drawn with). */
  topPropensity: number | null;
  candidateSource: DecisionRecord["candidateSource"];
  fallbacks: string[];
  rollout: { id: string; arm: string; stage: number } | null;
  /** Joined reward so far (sum over slots, `earliest` per slot as in the join). */
  reward: number;
  rewardCount: number;
}

export interface PolicyHour {
  policy: string;
  decisions: number;
  rewardedDecisions: number;
  /** Share of decisions with a counted reward: the click-through proxy. */
  rewardedShare: number | null;
  /** Mean joined reward per decision so far (open windows count what arrived until now). */
  rewardMean: number | null;
}

export interface ActivityOptions {
  /** Recent decisions kept for the list (default 50). */
  recent?: number;
  /** Decisions remembered to attribute their rewards (default 100 000; oldest forgotten first). */
  maxTracked?: number;
  /** Minutes of history kept for the per-policy and per-type windows (default 60). */
  minutes?: number;
}

/**
 * The dashboard's cheap in-memory view of recent traffic in this process: decisions per policy per
 * minute with the rewards they joined, events per type per minute, and a ring of the last decisions.
 * Fed by the engine's events (app/engine-events.ts, subscribe-activity.ts), announced after each write, so it sees exactly
 * what was durably logged and never writes anything itself. Rewards are attributed by the one rule the
 * per-minute fold also uses (app/minute-aggregates.ts `countedReward`, after the reward join's reducer):
 * only accepted rewards, slot by `itemId` (none: position 0), with `earliest` only a slot's first.
 */
export class DashboardActivity {
  private readonly policyMinutes = new Map<number, Map<string, PolicyMinute>>();
  private readonly eventMinutes = new Map<number, Map<string, number>>();
  private readonly eventTotals = new Map<string, number>();
  /**
   * What a decision keeps while it can still earn a reward (up to `maxTracked` live at once): its policy, time
   * and shown items as one joined string (split only when a reward arrives), as columns (app/tracked-decisions.ts);
   * no summary (the ≤ 50 in the list are found there).
   */
  private readonly tracked = new TrackedDecisions<string>();
  private readonly ring: RecentDecision[] = [];
  private readonly recentSize: number;
  private readonly maxTracked: number;
  private readonly minutes: number;
  private prunedMinute = Number.NEGATIVE_INFINITY;
  /** Decisions forgotten before their window closed (the tracking bound was reached). */
  forgotten = 0;
  decisionsSeen = 0;

  constructor(
    private readonly clock: Clock,
    private readonly join: Pick<JoinConfig, "aggregation" | "windowMs">,
    options: ActivityOptions = {},
  ) {
    this.recentSize = options.recent ?? 50;
    this.maxTracked = options.maxTracked ?? 100_000;
    this.minutes = options.minutes ?? 60;
  }

  onDecision(record: DecisionRecord): void {
    const minute = Math.floor(record.timestamp / MINUTE_MS);
    this.policyBucket(minute, record.policy.id).decisions++;
    this.decisionsSeen++;
    const summary: RecentDecision = {
      decisionId: record.decisionId,
      at: record.timestamp,
      userId: record.userId,
      policy: { id: record.policy.id, version: record.policy.version },
      items: record.slots.map((s) => s.itemId),
      topPropensity: record.slots[0]?.propensity ?? null,
      candidateSource: record.candidateSource,
      fallbacks: record.fallbacks,
      rollout: record.rollout ? { ...record.rollout } : null,
      reward: 0,
      rewardCount: 0,
    };
    this.ring.push(summary);
    if (this.ring.length > this.recentSize) this.ring.shift();
    this.tracked.delete(record.decisionId);
    this.tracked.set(record.decisionId, record.policy.id, record.timestamp, summary.items.join(ITEM_SEP));
    this.prune();
  }

  onReward(reward: RewardRecord, outcome: RewardOutcome | undefined): void {
    const t = this.tracked.slotOf(reward.decisionId);
    if (t === undefined) return;
    const joined = this.tracked.slotItemsOf(t);
    const slotItems = joined === "" ? [] : joined.split(ITEM_SEP);
    const rewardedSlots = this.tracked.rewardedSlots(t);
    const counted = countedReward(slotItems, rewardedSlots, reward, outcome, this.join.aggregation);
    if (!counted) return;
    const { firstForDecision } = counted;
    const summary = this.inRecent(reward.decisionId);
    if (summary) {
      summary.reward += reward.value;
      summary.rewardCount++;
    }
    const minute = Math.floor(this.tracked.atOf(t) / MINUTE_MS);
    const bucket = this.policyMinutes.get(minute)?.get(this.tracked.groupOf(t));
    if (!bucket) return; // the decision's minute already left the window
    bucket.rewardSum += reward.value;
    if (firstForDecision) bucket.rewardedDecisions++;
  }

  onEvents(inserted: readonly UserEvent[]): void {
    if (inserted.length === 0) return;
    const minute = Math.floor(this.clock.now() / MINUTE_MS);
    let bucket = this.eventMinutes.get(minute);
    if (!bucket) {
      bucket = new Map();
      this.eventMinutes.set(minute, bucket);
    }
    for (const e of inserted) {
      const known = this.eventTotals.has(e.type) || this.eventTotals.size < TRACKED_EVENT_TYPES;
      const type = known ? e.type : OTHER_TYPE;
      bucket.set(type, (bucket.get(type) ?? 0) + 1);
      this.eventTotals.set(type, (this.eventTotals.get(type) ?? 0) + 1);
    }
  }

  /** Per policy over the last `minutes` minutes (the current minute included). */
  policiesLastHour(now = this.clock.now()): PolicyHour[] {
    const sums = new Map<string, PolicyMinute>();
    for (const [minute, byPolicy] of this.policyMinutes) {
      if (!this.inWindow(minute, now)) continue;
      for (const [policy, m] of byPolicy) {
        const s = sums.get(policy) ?? { decisions: 0, rewardedDecisions: 0, rewardSum: 0 };
        s.decisions += m.decisions;
        s.rewardedDecisions += m.rewardedDecisions;
        s.rewardSum += m.rewardSum;
        sums.set(policy, s);
      }
    }
    return [...sums]
      .map(([policy, s]) => ({
        policy,
        decisions: s.decisions,
        rewardedDecisions: s.rewardedDecisions,
        rewardedShare: s.decisions > 0 ? s.rewardedDecisions / s.decisions : null,
        rewardMean: s.decisions > 0 ? s.rewardSum / s.decisions : null,
      }))
      .sort((a, b) => b.decisions - a.decisions || a.policy.localeCompare(b.policy));
  }

  /** Decisions per minute, oldest first, for the last `minutes` minutes (zeros included). */
  decisionsPerMinute(now = this.clock.now()): { minute: number; decisions: number }[] {
    const last = Math.floor(now / MINUTE_MS);
    const out = [];
    for (let m = last - this.minutes + 1; m <= last; m++) {
      let decisions = 0;
      for (const p of this.policyMinutes.get(m)?.values() ?? []) decisions += p.decisions;
      out.push({ minute: m * MINUTE_MS, decisions });
    }
    return out;
  }

  /**
   * Events by type: accepted since this process started, and in the last `minutes` minutes; the `top`
   * largest types by name, the rest summed under OTHER_TYPE (last).
   */
  eventsByType(now = this.clock.now(), top = EVENT_TYPES_SHOWN): { type: string; total: number; lastHour: number }[] {
    const hour = new Map<string, number>();
    for (const [minute, byType] of this.eventMinutes) {
      if (!this.inWindow(minute, now)) continue;
      for (const [type, n] of byType) hour.set(type, (hour.get(type) ?? 0) + n);
    }
    const rows = [...this.eventTotals]
      .map(([type, total]) => ({ type, total, lastHour: hour.get(type) ?? 0 }))
      .sort((a, b) => b.total - a.total || a.type.localeCompare(b.type));
    const named = rows.filter((r) => r.type !== OTHER_TYPE);
    const rest = [...named.slice(top), ...rows.filter((r) => r.type === OTHER_TYPE)];
    if (rest.length === 0) return named;
    const other = { type: OTHER_TYPE, total: 0, lastHour: 0 };
    for (const r of rest) {
      other.total += r.total;
      other.lastHour += r.lastHour;
    }
    return [...named.slice(0, top), other];
  }

  /** The last decisions, newest first. */
  recent(limit = this.recentSize): RecentDecision[] {
    return this.ring.slice(-limit).reverse();
  }

  /** The list's line for a decision, while it is among the last `recent` (a scan of at most 50). */
  private inRecent(decisionId: string): RecentDecision | undefined {
    for (let i = this.ring.length - 1; i >= 0; i--) {
      if (this.ring[i]?.decisionId === decisionId) return this.ring[i];
    }
    return undefined;
  }

  /** Decisions held to attribute their rewards (at most `maxTracked`). */
  get trackedDecisions(): number {
    return this.tracked.size;
  }

  private inWindow(minute: number, now: number): boolean {
    return minute > Math.floor(now / MINUTE_MS) - this.minutes;
  }

  private policyBucket(minute: number, policy: string): PolicyMinute {
    let byPolicy = this.policyMinutes.get(minute);
    if (!byPolicy) {
      byPolicy = new Map();
      this.policyMinutes.set(minute, byPolicy);
    }
    let bucket = byPolicy.get(policy);
    if (!bucket) {
      bucket = { decisions: 0, rewardedDecisions: 0, rewardSum: 0 };
      byPolicy.set(policy, bucket);
    }
    return bucket;
  }

  /**
   * Drops minutes older than the window and decisions that can no longer earn a counted reward: their
   * minute left the window, or (bounded memory) the tracking limit was reached.
   */
  private prune(): void {
    const now = this.clock.now();
    const oldest = Math.floor(now / MINUTE_MS) - this.minutes;
    if (oldest > this.prunedMinute) {
      // Once a minute: the rank path must not walk the buckets on every decision.
      this.prunedMinute = oldest;
      for (const buckets of [this.policyMinutes, this.eventMinutes]) {
        for (const minute of buckets.keys()) if (minute <= oldest) buckets.delete(minute);
      }
    }
    // A reward counts only inside its window, so a decision older than two windows (one for a deferred
    // activation, one for the window itself) cannot earn one any more.
    const horizon = now - this.join.windowMs;
    for (const [id, t] of this.tracked.entries()) {
      const at = this.tracked.atOf(t);
      const expired = Math.floor(at / MINUTE_MS) <= oldest || at + this.join.windowMs < horizon;
      if (!expired && this.tracked.size <= this.maxTracked) break;
      if (!expired) this.forgotten++;
      this.tracked.delete(id);
    }
  }
}
