import type { Logger } from "pino";
import type { Policy, PolicyInput } from "../bandit/policy.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import type { EngineMetrics } from "./metrics.js";
import type { PolicyProvider } from "./ports.js";
import { policyInputOf } from "./rank.js";

interface PendingSlot {
  learned: boolean;
  sum: number;
  count: number;
}

interface Pending {
  record: DecisionRecord;
  /** The policy input, rebuilt once per decision rather than once per slot update. */
  input: PolicyInput;
  closesAt: number;
  slots: PendingSlot[];
}

/**
 * Turns joined rewards into policy updates, following the join semantics exactly:
 * - `earliest`: a slot's first counted reward updates the policy at once (learning after every reward);
 * - `sum`: the slot's total is known only when the window closes, so it updates then;
 * - a slot with no reward when its window closes updates with the default reward (a policy that only
 *   ever saw clicks would learn that everything is clicked).
 * Pending decisions live in memory, bounded by `maxPending` (oldest dropped and counted); after a restart,
 * decisions still inside their window are not learned from: the log keeps them for retraining and OPE.
 */
export class LearningLoop {
  private readonly pending = new Map<string, Pending>();
  dropped = 0;

  constructor(
    private readonly join: JoinConfig,
    private readonly policies: PolicyProvider,
    private readonly metrics: EngineMetrics,
    private readonly logger: Logger,
    private readonly maxPending = 200_000,
  ) {}

  /** Starts the join window of an activated decision. */
  track(record: DecisionRecord, input: PolicyInput = policyInputOf(record)): void {
    if (!record.activated) return;
    if (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.dropped++;
    }
    const start = record.activatedAt ?? record.timestamp;
    const slots = record.slots.map(() => ({ learned: false, sum: 0, count: 0 }));
    this.pending.set(record.decisionId, { record, input, closesAt: start + this.join.windowMs, slots });
  }

  /** An accepted (in-window, activated, not duplicate) reward. */
  onReward(decisionId: string, itemId: string | undefined, value: number): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    const index = itemId === undefined ? 0 : entry.record.slots.findIndex((s) => s.itemId === itemId);
    const slot = entry.slots[index];
    if (!slot || slot.learned) return;
    slot.sum += value;
    slot.count++;
    if (this.join.aggregation === "earliest") {
      slot.learned = true;
      this.update(entry, index, value);
    }
  }

  /** Closes every window that ended by `now`. Call on a timer (or after advancing a simulated clock). */
  closeWindows(now: number): number {
    let closed = 0;
    for (const [id, entry] of this.pending) {
      // Entries are tracked at activation, so insertion order is close order: stop at the first open one.
      if (entry.closesAt > now) break;
      this.pending.delete(id);
      closed++;
      entry.slots.forEach((slot, index) => {
        this.metrics.joins.inc({ status: slot.count > 0 ? "joined" : "defaulted" });
        if (slot.learned) return;
        this.update(entry, index, slot.count > 0 ? slot.sum : this.join.defaultReward);
      });
    }
    return closed;
  }

  /** Items a decision still inside its reward window showed, by slot (undefined once the window closed). */
  shownItems(decisionId: string): string[] | undefined {
    return this.pending.get(decisionId)?.record.slots.map((s) => s.itemId);
  }

  /** The record of a decision still inside its reward window (undefined once the window closed). */
  pendingDecision(decisionId: string): DecisionRecord | undefined {
    return this.pending.get(decisionId)?.record;
  }

  get size(): number {
    return this.pending.size;
  }

  private update({ record, input }: Pending, slotIndex: number, reward: number): void {
    const policy: Policy | undefined = this.policies.get(record.policy.id);
    const slot = record.slots[slotIndex];
    if (!policy || !slot) return;
    try {
      policy.update({
        input,
        index: slot.index,
        position: slot.position,
        reward,
        propensity: slot.propensity,
        placedBefore: record.slots.slice(0, slotIndex).map((s) => s.index),
      });
      this.metrics.policyUpdates.inc({ policy: policy.id });
    } catch (error) {
      this.logger.error({ err: error, policy: policy.id, decisionId: record.decisionId }, "policy update failed");
    }
  }
}
