import { codeDictionary, FactsBuilder, type FactsScanOptions } from "../../decisions/decision-facts.js";
import {
  type DecisionRecord,
  type DecisionWithRewards,
  type RewardOutcome,
  type RewardRecord,
  type StoredReward,
  withPlainDistributions,
} from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import { byArrival, storedReward } from "../../decisions/reward-reducer.js";

interface Slot {
  decisionId: string;
  timestamp: number;
  /** Append order: the tie-break of the log order (timestamp, seq). */
  seq: number;
}

/**
 * In-memory decision log: for tests and the simulator's fast mode. Not durable.
 *
 * Stored entries are deeply frozen snapshots, replaced (never changed) on activation and on each
 * reward, so `scan` hands them out without copying: a caller holding one keeps a consistent view, and
 * an accidental mutation throws instead of corrupting the log. `get` still returns a private copy.
 */
export class MemoryDecisionStore implements DecisionStore {
  private readonly decisions = new Map<string, DecisionWithRewards>();
  private readonly rewardIds = new Set<string>();
  private ordered: Slot[] = [];
  private sorted = true;

  async append(record: DecisionRecord): Promise<boolean> {
    if (this.decisions.has(record.decisionId)) return false;
    const decision = deepFreeze(structuredClone(withPlainDistributions(record)));
    this.decisions.set(
      record.decisionId,
      Object.freeze({ decision, rewards: Object.freeze([]) as unknown as StoredReward[] }),
    );
    const last = this.ordered[this.ordered.length - 1];
    if (last && last.timestamp > record.timestamp) this.sorted = false;
    this.ordered.push({ decisionId: record.decisionId, timestamp: record.timestamp, seq: this.ordered.length });
    return true;
  }

  async get(decisionId: string): Promise<DecisionWithRewards | undefined> {
    const found = this.decisions.get(decisionId);
    return found && structuredClone(found);
  }

  async activate(decisionId: string, at: number): Promise<boolean> {
    const found = this.decisions.get(decisionId);
    if (!found) return false;
    if (!found.decision.activated) {
      const decision = Object.freeze({ ...found.decision, activated: true, activatedAt: at });
      this.decisions.set(decisionId, Object.freeze({ decision, rewards: found.rewards }));
    }
    return true;
  }

  async addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    const found = this.decisions.get(reward.decisionId);
    if (!found) return undefined;
    if (this.rewardIds.has(reward.rewardId)) return "duplicate";
    this.rewardIds.add(reward.rewardId);
    const stored: StoredReward = Object.freeze(storedReward(reward, found.decision, windowMs));
    // Arrival order, as the port hands rewards out (stable: ties keep log order).
    const rewards = Object.freeze([...found.rewards, stored].sort(byArrival)) as unknown as StoredReward[];
    this.decisions.set(reward.decisionId, Object.freeze({ decision: found.decision, rewards }));
    return outcomeOf(stored);
  }

  /** Frozen snapshots, in (timestamp, append) order; callers must not (and cannot) mutate them. */
  async *scan(options: { from?: number; to?: number; batchSize?: number } = {}): AsyncIterable<DecisionWithRewards[]> {
    const batchSize = options.batchSize ?? 1000;
    let batch: DecisionWithRewards[] = [];
    for (const slot of this.inRange(options)) {
      batch.push(this.decisions.get(slot.decisionId) as DecisionWithRewards);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** The narrow facts, built from the stored snapshots (codes are per scan). */
  async *scanFacts(options: FactsScanOptions & { batchSize?: number } = {}) {
    const batchSize = options.batchSize ?? 50_000;
    const code = codeDictionary();
    let builder = new FactsBuilder(code);
    for (const slot of this.inRange(options)) {
      const entry = this.decisions.get(slot.decisionId) as DecisionWithRewards;
      builder.add(entry.decision, slot.seq, entry.rewards);
      if (builder.size >= batchSize) {
        yield builder.finish();
        builder = new FactsBuilder(code);
      }
    }
    if (builder.size > 0) yield builder.finish();
  }

  private *inRange(options: { from?: number; to?: number }): Iterable<Slot> {
    if (!this.sorted) {
      // Stable: equal timestamps keep append order.
      this.ordered.sort((a, b) => a.timestamp - b.timestamp);
      this.sorted = true;
    }
    for (const slot of this.ordered) {
      if (options.from !== undefined && slot.timestamp < options.from) continue;
      if (options.to !== undefined && slot.timestamp >= options.to) break;
      yield slot;
    }
  }

  async count(options: { from?: number; to?: number } = {}): Promise<number> {
    let n = 0;
    for (const d of this.ordered) {
      if (
        (options.from === undefined || d.timestamp >= options.from) &&
        (options.to === undefined || d.timestamp < options.to)
      )
        n++;
    }
    return n;
  }

  async close(): Promise<void> {}
}

export function outcomeOf(reward: { late: boolean; ignored: boolean }): RewardOutcome {
  if (reward.ignored) return "not_activated";
  return reward.late ? "late" : "accepted";
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
