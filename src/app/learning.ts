import type { Logger } from "pino";
import type { Policy, PolicyInput } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import type { EngineMetrics } from "./metrics.js";
import type { PolicyProvider } from "./ports.js";
import { policyInputOf } from "./rank.js";

interface PendingSlot {
  itemId: string;
  position: number;
  propensity: number;
  learned: boolean;
  sum: number;
  count: number;
}

/**
 * What an open reward window keeps: the shown slots and the policy input of the shown candidates only.
 * A policy's update reads the context, the profile and the rewarded candidate (bandit/policy.ts
 * PolicyFeedback), so slot i's candidate is `input.candidates[i]` and the slots before it are [0, i).
 */
interface Pending {
  decisionId: string;
  policyId: string;
  input: PolicyInput;
  /** When the decision was made: rewards dated before it are refused (app/reward.ts). */
  decidedAt: number;
  closesAt: number;
  slots: PendingSlot[];
  bytes: number;
}

export interface LearningLimits {
  /** Estimated bytes of pending state before the oldest windows close early. */
  maxPendingBytes: number;
  /** Pending decisions before the oldest windows close early. */
  maxPending: number;
}

/**
 * Turns joined rewards into policy updates, following the join semantics exactly:
 * - `earliest`: a slot's first counted reward updates the policy at once (learning after every reward);
 * - `sum`: the slot's total is known only when the window closes, so it updates then;
 * - a slot with no reward when its window closes updates with the default reward (a policy that only
 *   ever saw clicks would learn that everything is clicked).
 * Pending state is bounded by estimated bytes (`rewards.maxPendingBytes`) and count: past either, the
 * oldest windows close early (they learn from what they have; counted and logged), so traffic can never
 * grow the heap without bound. After a restart, decisions still inside their window are not learned
 * from: the log keeps them for retraining and OPE.
 */
export class LearningLoop {
  private readonly pending = new Map<string, Pending>();
  private pendingBytes = 0;
  closedEarly = 0;
  private readonly limits: LearningLimits;

  constructor(
    private readonly join: JoinConfig,
    private readonly policies: PolicyProvider,
    private readonly metrics: EngineMetrics,
    private readonly logger: Logger,
    limits: Partial<LearningLimits> = {},
  ) {
    this.limits = { maxPendingBytes: 256 * 1024 * 1024, maxPending: 1_000_000, ...limits };
  }

  /** Starts the join window of an activated decision. */
  track(record: DecisionRecord, input: PolicyInput = policyInputOf(record)): void {
    if (!record.activated) return;
    const shown: PolicyInput = {
      context: input.context,
      candidates: record.slots.map((s) => input.candidates[s.index]!),
    };
    if (input.profile) shown.profile = input.profile;
    const slots = record.slots.map((s) => ({
      itemId: s.itemId,
      position: s.position,
      propensity: s.propensity,
      learned: false,
      sum: 0,
      count: 0,
    }));
    const entry: Pending = {
      decisionId: record.decisionId,
      policyId: record.policy.id,
      input: shown,
      decidedAt: record.timestamp,
      closesAt: (record.activatedAt ?? record.timestamp) + this.join.windowMs,
      slots,
      bytes: pendingBytes(record.decisionId, shown, slots.length),
    };
    this.pending.delete(record.decisionId); // a re-track replaces (and re-counts) the entry
    this.pending.set(record.decisionId, entry);
    this.pendingBytes += entry.bytes;
    this.enforceLimits();
    this.publish();
  }

  /** An accepted (in-window, activated, not duplicate) reward. */
  onReward(decisionId: string, itemId: string | undefined, value: number): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    const index = itemId === undefined ? 0 : entry.slots.findIndex((s) => s.itemId === itemId);
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
    for (const entry of this.pending.values()) {
      // Entries are tracked at activation, so insertion order is close order: stop at the first open one.
      if (entry.closesAt > now) break;
      this.close(entry);
      closed++;
    }
    if (closed > 0) this.publish();
    return closed;
  }

  /** Items a decision still inside its reward window showed, by slot (undefined once the window closed). */
  shownItems(decisionId: string): string[] | undefined {
    return this.pending.get(decisionId)?.slots.map((s) => s.itemId);
  }

  /** What a decision still inside its reward window showed, and when (undefined once the window closed). */
  pendingShown(decisionId: string): { items: string[]; timestamp: number } | undefined {
    const entry = this.pending.get(decisionId);
    return entry && { items: entry.slots.map((s) => s.itemId), timestamp: entry.decidedAt };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Estimated bytes held for open windows. */
  get bytes(): number {
    return this.pendingBytes;
  }

  private close(entry: Pending): void {
    this.pending.delete(entry.decisionId);
    this.pendingBytes -= entry.bytes;
    entry.slots.forEach((slot, index) => {
      this.metrics.hot.joins.child(slot.count > 0 ? "joined" : "defaulted").inc();
      if (slot.learned) return;
      this.update(entry, index, slot.count > 0 ? slot.sum : this.join.defaultReward);
    });
  }

  /** Past a limit, the oldest windows close now: they learn from the rewards they have (else the default). */
  private enforceLimits(): void {
    const { maxPendingBytes, maxPending } = this.limits;
    let early = 0;
    for (const entry of this.pending.values()) {
      if (this.pendingBytes <= maxPendingBytes && this.pending.size <= maxPending) break;
      const reason = this.pendingBytes > maxPendingBytes ? "bytes" : "count";
      this.close(entry);
      this.metrics.learningWindowsClosedEarly.inc({ reason });
      early++;
    }
    if (early === 0) return;
    // Logged on the first early close and then every 10,000: a sustained overload must not flood the log.
    const before = this.closedEarly;
    this.closedEarly += early;
    if (before === 0 || Math.floor(before / 10_000) !== Math.floor(this.closedEarly / 10_000)) {
      this.logger.warn(
        {
          closedEarly: this.closedEarly,
          pendingBytes: this.pendingBytes,
          pending: this.pending.size,
          maxPendingBytes,
          maxPending,
        },
        "learning: reward windows closed early (pending state over its limit; raise rewards.maxPendingBytes or shorten rewards.window); rewards arriving later are logged but not learned online",
      );
    }
  }

  private publish(): void {
    this.metrics.learningPendingWindows.set(this.pending.size);
    this.metrics.learningPendingBytes.set(this.pendingBytes);
  }

  private update(entry: Pending, slotIndex: number, reward: number): void {
    const policy: Policy | undefined = this.policies.get(entry.policyId);
    const slot = entry.slots[slotIndex];
    if (!policy || !slot) return;
    try {
      policy.update({
        input: entry.input,
        index: slotIndex,
        position: slot.position,
        reward,
        propensity: slot.propensity,
        placedBefore: Array.from({ length: slotIndex }, (_, i) => i),
      });
      this.metrics.hot.policyUpdates.child(policy.id).inc();
    } catch (error) {
      this.logger.error({ err: error, policy: policy.id, decisionId: entry.decisionId }, "policy update failed");
    }
  }
}

/**
 * A deliberate over-estimate of an entry's heap: V8 object headers and Map entries (~200 B), each slot
 * (~100 B), and each feature map the input references (context, profile, shown candidates' features).
 * Maps shared between decisions (a catalog item's features, a user's profile) are counted each time:
 * the cap errs towards closing early, never towards running out of memory.
 */
function pendingBytes(decisionId: string, input: PolicyInput, slots: number): number {
  let bytes = 200 + 2 * decisionId.length + slots * 100;
  bytes += featureMapBytes(input.context) + featureMapBytes(input.profile);
  for (const c of input.candidates) bytes += 48 + 2 * c.id.length + featureMapBytes(c.features);
  return bytes;
}

function featureMapBytes(map: FeatureMap | undefined): number {
  if (!map) return 0;
  let bytes = 64;
  for (const key in map) {
    const v = map[key];
    bytes += 24 + 2 * key.length + (typeof v === "string" ? 16 + 2 * v.length : 8);
  }
  return bytes;
}
