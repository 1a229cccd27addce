import type { Logger } from "pino";
import { FeatureEncoder } from "../bandit/encoder.js";
import { parseFeatures } from "../bandit/params.js";
import type { Policy, PolicyCandidate, PolicyInput, PolicySpec } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";
import type { DecisionRecord, StoredReward } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import {
  applyReward,
  closeWindow,
  type LearnEffect,
  openWindow,
  type WindowState,
} from "../decisions/reward-reducer.js";
import { pendingEntryBytes } from "./learning-bytes.js";
import type { EngineMetrics } from "./metrics.js";
import type { PolicyProvider } from "./ports.js";
import { policyInputOf } from "./rank.js";

/**
 * What an open reward window keeps: the reducer's window state (decisions/reward-reducer.ts), the shown
 * slots' propensities, and the policy input of the shown candidates only, with only the profile features the
 * policy reads. A policy's update reads the context, the profile and the rewarded candidate (bandit/policy.ts
 * PolicyFeedback), so slot i's candidate is `input.candidates[i]` and the slots before it are [0, i).
 */
interface Pending {
  readonly decisionId: string;
  readonly policyId: string;
  readonly input: PolicyInput;
  /** When the decision was made: rewards dated before it are refused (app/reward.ts). */
  readonly decidedAt: number;
  readonly propensities: number[];
  readonly window: WindowState;
  readonly bytes: number;
  /** Rewards received inside the window whose write is still in flight: the window waits for them. */
  inFlight: number;
  /** The window's end passed while rewards were in flight: close it when the last one settles. */
  closeDue: boolean;
}

/** An open window as plain data (`LearningLoop.openWindows`): structured-cloneable, for checkpoints. */
export type OpenWindow = Pick<Pending, "decisionId" | "policyId" | "input" | "decidedAt" | "propensities" | "window">;

export interface LearningLimits {
  /** Estimated bytes of pending state before the oldest windows close early. */
  maxPendingBytes: number;
  /** Pending decisions before the oldest windows close early. */
  maxPending: number;
}

/** The part of a reward the learner applies (a stored reward has it). */
export type ArrivedReward = Pick<StoredReward, "rewardId" | "itemId" | "value" | "receivedAt">;

/**
 * Turns rewards into policy updates with the one reward join (decisions/reward-reducer.ts): `earliest` learns a
 * slot's first reward to arrive at once, `sum` learns at close, a slot without a counted reward learns the
 * default reward at close; each slot exactly once.
 *
 * A reward is received (its `receivedAt` stamped) before its write to the log completes; `hold` at receipt and
 * `release` after the write keep the window open until every reward received inside it was applied, so a
 * window closing on the timer never learns the default while the log counts a reward (close is a watermark).
 *
 * Pending state is bounded by estimated bytes (`rewards.maxPendingBytes`, estimate calibrated against measured
 * heap: bench/learning-memory.bench.ts) and count: past either, the oldest windows close early (they learn from
 * what they have; counted in /metrics and logged), so traffic can never grow the heap without bound. A window
 * closed early, or lost to a restart, diverges from the log's join (which counts rewards until the window's
 * real end); the log keeps every reward for retraining and OPE.
 */
export class LearningLoop {
  private readonly pending = new Map<string, Pending>();
  private pendingBytes = 0;
  closedEarly = 0;
  private readonly limits: LearningLimits;
  private readonly profileReaders = new WeakMap<Policy, (p: FeatureMap | undefined) => FeatureMap | undefined>();

  constructor(
    private readonly join: JoinConfig,
    private readonly policies: PolicyProvider,
    private readonly metrics: EngineMetrics,
    private readonly logger: Logger,
    limits: Partial<LearningLimits> = {},
  ) {
    this.limits = { maxPendingBytes: 256 * 1024 * 1024, maxPending: 1_000_000, ...limits };
  }

  /** Opens the reward window of an activated decision. */
  track(record: DecisionRecord, input: PolicyInput = policyInputOf(record)): void {
    if (!record.activated) return;
    const shown: PolicyInput = {
      context: input.context,
      candidates: record.slots.map((s) => compactCandidate(input.candidates[s.index]!)),
    };
    const profile = this.profileReaderOf(record.policy.id)(input.profile);
    if (profile) shown.profile = profile;
    const window = openWindow(record.slots, record.activatedAt ?? record.timestamp, this.join);
    const entry: Pending = {
      decisionId: record.decisionId,
      policyId: record.policy.id,
      input: shown,
      decidedAt: record.timestamp,
      propensities: record.slots.map((s) => s.propensity),
      window,
      bytes: pendingEntryBytes(record.decisionId, shown, record.slots.length),
      inFlight: 0,
      closeDue: false,
    };
    this.forget(record.decisionId); // a re-track replaces the entry
    this.pending.set(record.decisionId, entry);
    this.pendingBytes += entry.bytes;
    this.enforceLimits();
    this.publish();
  }

  /** A reward for `decisionId` was received now (its `receivedAt` stamped): keep its window open for it. */
  hold(decisionId: string): void {
    const entry = this.pending.get(decisionId);
    if (entry) entry.inFlight++;
  }

  /** The held reward's write settled: apply it when the log counted it (`accepted`), then release the hold. */
  release(decisionId: string, accepted?: ArrivedReward): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    if (accepted) this.apply(entry, accepted);
    if (entry.closeDue && entry.inFlight === 0) {
      this.close(entry, Number.POSITIVE_INFINITY);
      this.publish();
    }
  }

  /** A reward the log counted, applied at once (no write in flight: tests, replays). */
  onReward(decisionId: string, reward: ArrivedReward): void {
    const entry = this.pending.get(decisionId);
    if (entry) this.apply(entry, reward);
  }

  /** Closes every window that ended by `now`. Call on a timer (or after advancing a simulated clock). */
  closeWindows(now: number): number {
    let closed = 0;
    for (const entry of this.pending.values()) {
      // Entries are tracked at activation, so insertion order is close order: stop at the first open one.
      if (entry.window.closesAt > now) break;
      if (entry.inFlight > 0) {
        entry.closeDue = true;
        continue;
      }
      this.close(entry, now);
      closed++;
    }
    if (closed > 0) this.publish();
    return closed;
  }

  /** Items a decision still inside its reward window showed, by slot (undefined once the window closed). */
  shownItems(decisionId: string): string[] | undefined {
    return this.pending.get(decisionId)?.window.slots.map((s) => s.itemId);
  }

  /** What a decision still inside its reward window showed, and when (undefined once the window closed). */
  pendingShown(decisionId: string): { items: string[]; timestamp: number } | undefined {
    const entry = this.pending.get(decisionId);
    return entry && { items: entry.window.slots.map((s) => s.itemId), timestamp: entry.decidedAt };
  }

  /** Whether `decisionId` has an open reward window. */
  isOpen(decisionId: string): boolean {
    return this.pending.has(decisionId);
  }

  /**
   * The open windows as plain data, in close order: what a stream learner checkpoints beside its policy and
   * stream positions (duties/learner-checkpoint.ts). Holds and in-flight counts are not part of it: the
   * stream learner applies rewards as entries and never holds.
   */
  openWindows(): OpenWindow[] {
    return [...this.pending.values()].map(({ decisionId, policyId, input, decidedAt, propensities, window }) => ({
      decisionId,
      policyId,
      input,
      decidedAt,
      propensities,
      window,
    }));
  }

  /** Puts checkpointed windows back (after `openWindows` on another loop), replacing any with the same id. */
  restoreWindows(windows: readonly OpenWindow[]): void {
    for (const w of windows) {
      this.forget(w.decisionId);
      const bytes = pendingEntryBytes(w.decisionId, w.input, w.window.slots.length);
      this.pending.set(w.decisionId, { ...w, bytes, inFlight: 0, closeDue: false });
      this.pendingBytes += bytes;
    }
    this.publish();
  }

  get size(): number {
    return this.pending.size;
  }

  /** Estimated bytes held for open windows. */
  get bytes(): number {
    return this.pendingBytes;
  }

  private apply(entry: Pending, reward: ArrivedReward): void {
    for (const effect of applyReward(entry.window, reward, this.join).effects) this.learn(entry, effect);
  }

  private forget(decisionId: string): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    this.pending.delete(decisionId);
    this.pendingBytes -= entry.bytes;
  }

  /** Closes a window at `now` (`force`: before its end, the memory cap) and learns what it left open. */
  private close(entry: Pending, now: number, force = false): void {
    this.forget(entry.decisionId);
    for (const effect of closeWindow(entry.window, now, this.join, force)) this.learn(entry, effect);
    for (const slot of entry.window.slots) this.metrics.hot.joins.child(slot.count > 0 ? "joined" : "defaulted").inc();
  }

  /** Past a limit, the oldest windows close now: they learn from the rewards they have (else the default). */
  private enforceLimits(): void {
    const { maxPendingBytes, maxPending } = this.limits;
    let early = 0;
    for (const entry of this.pending.values()) {
      if (this.pendingBytes <= maxPendingBytes && this.pending.size <= maxPending) break;
      const reason = this.pendingBytes > maxPendingBytes ? "bytes" : "count";
      this.close(entry, Number.NEGATIVE_INFINITY, true);
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

  /**
   * The profile features a policy's update reads (its spec's `features.profile`, through the encoder's own
   * selection), so a window does not keep a user's whole profile alive. Unknown or spec-less policies: all.
   */
  private profileReaderOf(policyId: string): (p: FeatureMap | undefined) => FeatureMap | undefined {
    const policy = this.policies.get(policyId);
    if (!policy) return (p) => p;
    let reader = this.profileReaders.get(policy);
    if (!reader) {
      const spec = (policy as { spec?: PolicySpec }).spec;
      if (!spec) reader = (p) => p;
      else {
        const encoder = new FeatureEncoder({ profile: parseFeatures(spec).profile, dims: 2 });
        reader = (p) => encoder.usedProfile(p);
      }
      this.profileReaders.set(policy, reader);
    }
    return reader;
  }

  private learn(entry: Pending, effect: LearnEffect): void {
    const policy: Policy | undefined = this.policies.get(entry.policyId);
    const slot = entry.window.slots[effect.slot];
    if (!policy || !slot) return;
    try {
      policy.update({
        input: entry.input,
        index: effect.slot,
        position: slot.position,
        reward: effect.reward,
        propensity: entry.propensities[effect.slot] as number,
        placedBefore: Array.from({ length: effect.slot }, (_, i) => i),
      });
      this.metrics.hot.policyUpdates.child(policy.id).inc();
    } catch (error) {
      this.logger.error({ err: error, policy: policy.id, decisionId: entry.decisionId }, "policy update failed");
    }
  }
}

/**
 * A shown candidate as a window keeps it: a fresh copy of its features. The request path builds candidate
 * feature maps that V8 keeps in dictionary mode (merged catalog and request features): measured ~860 B each
 * against ~130 B for a plain copy (bench/learning-memory.bench.ts), so a window holding the originals kept
 * 5–6× the memory its features need.
 */
function compactCandidate(c: PolicyCandidate): PolicyCandidate {
  const out: PolicyCandidate = { id: c.id };
  if (c.features) out.features = { ...c.features };
  if (c.score !== undefined) out.score = c.score;
  return out;
}
