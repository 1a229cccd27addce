import type {
  DecisionRecord,
  DecisionWithRewards,
  RewardOutcome,
  RewardRecord,
  StoredReward,
} from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import { classifyReward } from "../../decisions/reward-join.js";

/** In-memory decision log: for tests and the simulator's fast mode. Not durable. */
export class MemoryDecisionStore implements DecisionStore {
  private readonly decisions = new Map<string, DecisionWithRewards>();
  private readonly rewardIds = new Set<string>();
  private ordered: DecisionRecord[] = [];
  private sorted = true;

  async append(record: DecisionRecord): Promise<void> {
    if (this.decisions.has(record.decisionId)) throw new Error(`decision ${record.decisionId} exists`);
    this.decisions.set(record.decisionId, { decision: structuredClone(record), rewards: [] });
    const last = this.ordered[this.ordered.length - 1];
    if (last && last.timestamp > record.timestamp) this.sorted = false;
    this.ordered.push(record);
  }

  async get(decisionId: string): Promise<DecisionWithRewards | undefined> {
    const found = this.decisions.get(decisionId);
    return found && structuredClone(found);
  }

  async activate(decisionId: string, at: number): Promise<boolean> {
    const found = this.decisions.get(decisionId);
    if (!found) return false;
    if (!found.decision.activated) {
      found.decision.activated = true;
      found.decision.activatedAt = at;
    }
    return true;
  }

  async addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    const found = this.decisions.get(reward.decisionId);
    if (!found) return undefined;
    if (this.rewardIds.has(reward.rewardId)) return "duplicate";
    this.rewardIds.add(reward.rewardId);
    const flags = classifyReward(found.decision, reward.timestamp, windowMs);
    const stored: StoredReward = { ...reward, ...flags };
    found.rewards.push(stored);
    return outcomeOf(stored);
  }

  async *scan(options: { from?: number; to?: number; batchSize?: number } = {}): AsyncIterable<DecisionWithRewards[]> {
    if (!this.sorted) {
      this.ordered.sort((a, b) => a.timestamp - b.timestamp);
      this.sorted = true;
    }
    const batchSize = options.batchSize ?? 1000;
    let batch: DecisionWithRewards[] = [];
    for (const record of this.ordered) {
      if (options.from !== undefined && record.timestamp < options.from) continue;
      if (options.to !== undefined && record.timestamp >= options.to) break;
      batch.push(structuredClone(this.decisions.get(record.decisionId) as DecisionWithRewards));
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
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
