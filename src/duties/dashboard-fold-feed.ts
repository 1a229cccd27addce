import type { AggregateEntry, AggregatorLimits } from "../app/minute-aggregates.js";
import type { RewardOutcome } from "../decisions/decision-record.js";
import { arrivalOf, classifyReward } from "../decisions/reward-reducer.js";
import { decodeRecord } from "../storage/sqlite/record-codec.js";
import type { StreamEntry } from "../stream/stream-entry.js";

/** What the feed keeps of a decision to judge its rewards as the stores judge them at arrival. */
interface JudgedDecision {
  timestamp: number;
  activated: boolean;
  activatedAt?: number;
  /** Ids of the rewards seen for it (a retried reward id counts once). */
  rewardIds?: string[];
}

/** A judged decision as plain data (the duty's attribution checkpoint: dashboard-fold-checkpoint.ts). */
export type FeedDecisionTuple = [
  decisionId: string,
  timestamp: number,
  activated: boolean,
  activatedAt: number | null,
  rewardIds: string[] | null,
];

/** The feed's state as plain data, for the duty's checkpoint. */
export interface FoldFeedState {
  /** Purchase event ids counted recently, with when (this worker's clock) they were counted. */
  seenPurchases: [string, number][];
}

/**
 * Turns decision-stream entries into the entries the dashboard's fold consumes (app/minute-aggregates.ts
 * `AggregateEntry`), as the engine's events give them in one process: a decision once, a reward with the outcome
 * the store gave it, the events. Pure: no I/O; time comes in as arguments.
 *
 * Delivery into the stream is at least once (a retried rank, reward or event is appended again: issue 13, the
 * lead's decision), so the feed dedupes, as every consumer does: a decision id it tracks is not counted again;
 * a reward id seen for its decision is a duplicate; a purchase's event id counted recently is not counted again
 * (other events only keep a session alive, which is idempotent). The stream's reward carries no outcome (the
 * serving node's store judged it), so the feed judges it with the stores' own rule (decisions/reward-reducer.ts
 * `classifyReward`: not activated, late on the server's arrival time, with the window the serving node used).
 */
export class FoldFeed {
  private readonly decisions = new Map<string, JudgedDecision>();
  private readonly seenPurchases: Map<string, number>;
  /** Decisions added or changed since the last `decisionState` (the checkpoint's delta). */
  private changed = new Set<string>();

  constructor(
    private readonly limits: Pick<AggregatorLimits, "rewardHorizonMs" | "sessionTtlMs" | "maxTracked">,
    state?: FoldFeedState,
  ) {
    this.seenPurchases = new Map(state?.seenPurchases ?? []);
  }

  /** The fold's entry for a stream entry, or undefined when it changes nothing there. */
  toAggregate(entry: StreamEntry, now: number): AggregateEntry | undefined {
    switch (entry.kind) {
      case "decision":
        return this.onDecision(entry.decision.decisionId, entry.decision.bytes);
      case "activate":
        this.onActivate(entry.decisionId, entry.at);
        return undefined;
      case "reward": {
        const outcome = this.judge(entry.reward, entry.windowMs);
        return outcome === undefined ? undefined : { kind: "reward", reward: entry.reward, outcome };
      }
      case "event":
        if (entry.event.type === "purchase") {
          if (this.seenPurchases.has(entry.event.eventId)) return undefined;
          this.seenPurchases.set(entry.event.eventId, now);
        }
        return { kind: "events", events: [entry.event] };
      case "exposure":
        return undefined; // the decision's record names its rollout arm already
    }
  }

  /** Forgets decisions past the reward horizon (and past `maxTracked`) and purchases past a session's idle time. */
  forget(now: number): void {
    for (const [id, d] of this.decisions) {
      if (d.timestamp >= now - this.limits.rewardHorizonMs && this.decisions.size <= this.limits.maxTracked) break;
      this.decisions.delete(id);
    }
    const horizon = now - this.limits.sessionTtlMs;
    for (const [id, at] of this.seenPurchases) if (at < horizon) this.seenPurchases.delete(id);
  }

  /** The judged decisions as data: all, or those changed since the last call (as they are now). */
  decisionState(all: boolean): FeedDecisionTuple[] {
    const out: FeedDecisionTuple[] = [];
    for (const id of all ? this.decisions.keys() : this.changed) {
      const d = this.decisions.get(id);
      if (d) out.push([id, d.timestamp, d.activated, d.activatedAt ?? null, d.rewardIds ?? null]);
    }
    this.changed = new Set();
    return out;
  }

  /** Applies a checkpoint's part (a full, then its deltas in order); a decision keeps its first position. */
  restoreDecisions(tuples: readonly FeedDecisionTuple[]): void {
    for (const [id, timestamp, activated, activatedAt, rewardIds] of tuples) {
      this.decisions.set(id, {
        timestamp,
        activated,
        ...(activatedAt === null ? {} : { activatedAt }),
        ...(rewardIds === null ? {} : { rewardIds: [...rewardIds] }),
      });
    }
  }

  toJSON(): FoldFeedState {
    return { seenPurchases: [...this.seenPurchases] };
  }

  get tracked(): number {
    return this.decisions.size;
  }

  private onDecision(decisionId: string, bytes: Uint8Array): AggregateEntry | undefined {
    if (this.decisions.has(decisionId)) return undefined;
    const record = decodeRecord(bytes, { probabilities: false });
    this.changed.add(decisionId);
    this.decisions.set(decisionId, {
      timestamp: record.timestamp,
      activated: record.activated,
      ...(record.activatedAt === undefined ? {} : { activatedAt: record.activatedAt }),
    });
    return { kind: "decision", record };
  }

  private onActivate(decisionId: string, at: number): void {
    const d = this.decisions.get(decisionId);
    if (!d || d.activated) return; // a second activation changes nothing (reward-reducer.ts activateWindow)
    d.activated = true;
    d.activatedAt = at;
    this.changed.add(decisionId);
  }

  /** The store's verdict on a reward (undefined: its decision is unknown here, so the fold cannot count it). */
  private judge(
    reward: { rewardId: string; decisionId: string; timestamp: number; receivedAt?: number },
    windowMs: number,
  ): RewardOutcome | undefined {
    const d = this.decisions.get(reward.decisionId);
    if (!d) return undefined;
    d.rewardIds ??= [];
    if (d.rewardIds.includes(reward.rewardId)) return "duplicate";
    d.rewardIds.push(reward.rewardId);
    this.changed.add(reward.decisionId);
    const { late, ignored } = classifyReward(d, arrivalOf(reward), windowMs);
    return ignored ? "not_activated" : late ? "late" : "accepted";
  }
}
