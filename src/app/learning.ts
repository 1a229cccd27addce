import type { Logger } from "pino";
import { FeatureEncoder } from "../bandit/encoder.js";
import { parseFeatures } from "../bandit/params.js";
import type { Policy, PolicyInput, PolicySpec } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";
import type { DecisionRecord, StoredReward } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { applyReward, closeWindow, type LearnEffect, type WindowState } from "../decisions/reward-reducer.js";
import { DEFAULT_MAX_PENDING_BYTES } from "./learning-bytes.js";
import type { EngineMetrics } from "./metrics.js";
import {
  FeatureShapes,
  inputOf,
  type PendingWindow,
  packWindow,
  positionOf,
  propensityOf,
  type WindowSource,
  windowOf,
} from "./pending-window.js";
import type { PolicyProvider } from "./ports.js";
import { policyInputOf } from "./rank.js";

/** Windows closed per event-loop turn by the timer's close (`closeWindowsInSlices`): ~16 ms of updates. */
const CLOSE_SLICE = 16;

/** An open window as plain data (`LearningLoop.openWindows`): structured-cloneable, for checkpoints. */
export interface OpenWindow {
  source: WindowSource;
  /** The reward reducer's state; undefined while no reward arrived. */
  state: WindowState | undefined;
}

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
  private readonly pending = new Map<string, PendingWindow>();
  private readonly shapes = new FeatureShapes();
  private pendingBytes = 0;
  closedEarly = 0;
  /** The sliced close running now (`closeWindowsInSlices`), and the end it closes up to. */
  private closing: Promise<number> | undefined;
  private closeUntil = Number.NEGATIVE_INFINITY;
  private readonly limits: LearningLimits;
  private readonly profileReaders = new WeakMap<Policy, (p: FeatureMap | undefined) => FeatureMap | undefined>();

  constructor(
    private readonly join: JoinConfig,
    private readonly policies: PolicyProvider,
    private readonly metrics: EngineMetrics,
    private readonly logger: Logger,
    limits: Partial<LearningLimits> = {},
  ) {
    this.limits = { maxPendingBytes: DEFAULT_MAX_PENDING_BYTES, maxPending: 1_000_000, ...limits };
  }

  /** Opens the reward window of an activated decision (packed: app/pending-window.ts). */
  track(record: DecisionRecord, input: PolicyInput = policyInputOf(record)): void {
    if (!record.activated) return;
    const entry = packWindow(
      {
        decisionId: record.decisionId,
        policyId: record.policy.id,
        decidedAt: record.timestamp,
        activatedAt: record.activatedAt ?? record.timestamp,
        slots: record.slots,
        input,
        profile: this.profileReaderOf(record.policy.id)(input.profile),
      },
      this.join,
      this.shapes,
    );
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

  /**
   * Closes every window that ended by `now` (at most `max`, oldest first). Call on a timer (or after advancing a
   * simulated clock).
   */
  closeWindows(now: number, max = Number.POSITIVE_INFINITY): number {
    let closed = 0;
    for (const entry of this.pending.values()) {
      // Entries are tracked at activation, so insertion order is close order: stop at the first open one.
      if (entry.closesAt > now || closed >= max) break;
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

  /**
   * `closeWindows(now)` in slices of `slice` windows with the event loop free between them: windows end at the
   * rate traffic opened them, and each close learns every slot it shows (10 policy updates, ~1 ms), so one
   * second of traffic at 500 decisions/s closing in one turn would hold every request for ~0.5 s. A window
   * is closed on its end (a reward received after it is late whenever the close runs), so closing a few turns
   * later changes nothing it learns. One pass at a time: a call while one runs moves its watermark and joins it.
   */
  closeWindowsInSlices(now: number, slice = CLOSE_SLICE): Promise<number> {
    this.closeUntil = Math.max(this.closeUntil, now);
    if (this.closing) return this.closing;
    const first = this.closeWindows(this.closeUntil, slice);
    if (first < slice) return Promise.resolve(first); // all done in this turn: nothing left running
    // The pass awaits before its `finally` can run, so `closing` is set before it is cleared.
    const pass = (async () => {
      let closed = first;
      try {
        for (;;) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          const n = this.closeWindows(this.closeUntil, slice);
          closed += n;
          if (n < slice) return closed;
        }
      } finally {
        this.closing = undefined;
      }
    })();
    this.closing = pass;
    return pass;
  }

  /** Items a decision still inside its reward window showed, by slot (undefined once the window closed). */
  shownItems(decisionId: string): string[] | undefined {
    const entry = this.pending.get(decisionId);
    return entry && [...entry.itemIds];
  }

  /** Whether `decisionId` has an open reward window. */
  isOpen(decisionId: string): boolean {
    return this.pending.has(decisionId);
  }

  /**
   * The open windows as plain data, in close order: what a stream learner checkpoints beside its policy and
   * stream positions (duties/learner-checkpoint.ts). Each is the source it was packed from (the shown
   * candidates' input, slot i being candidate i) and the reducer's state when a reward arrived. Holds and
   * in-flight counts are not part of it: the stream learner applies rewards as entries and never holds.
   */
  openWindows(): OpenWindow[] {
    return [...this.pending.values()].map(plainWindow);
  }

  /** The open windows' decision ids in close order (`openWindows`' order): a full checkpoint reads them in slices. */
  openWindowIds(): string[] {
    return [...this.pending.keys()];
  }

  /** The open windows among `decisionIds`, as plain data, in the order given (an incremental checkpoint). */
  openWindowsOf(decisionIds: Iterable<string>): OpenWindow[] {
    const out: OpenWindow[] = [];
    for (const id of decisionIds) {
      const w = this.pending.get(id);
      if (w) out.push(plainWindow(w));
    }
    return out;
  }

  /** Puts checkpointed windows back (after `openWindows` on another loop), replacing any with the same id. */
  restoreWindows(windows: readonly OpenWindow[]): void {
    for (const { source, state } of windows) {
      this.forget(source.decisionId);
      const entry = packWindow(source, this.join, this.shapes);
      entry.state = state;
      this.pending.set(source.decisionId, entry);
      this.pendingBytes += entry.bytes;
    }
    this.publish();
  }

  /** What a decision still inside its reward window showed, and when (undefined once the window closed). */
  pendingShown(decisionId: string): { items: string[]; timestamp: number } | undefined {
    const entry = this.pending.get(decisionId);
    return entry && { items: [...entry.itemIds], timestamp: entry.decidedAt };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Estimated bytes held for open windows. */
  get bytes(): number {
    return this.pendingBytes;
  }

  private apply(entry: PendingWindow, reward: ArrivedReward): void {
    const { effects } = applyReward(windowOf(entry, this.join), reward, this.join);
    if (effects.length === 0) return;
    // The slots up to the last one learned: the input an update of each reads (pending-window.ts inputOf).
    let upTo = 0;
    for (const effect of effects) upTo = Math.max(upTo, effect.slot + 1);
    const input = inputOf(entry, upTo);
    for (const effect of effects) this.learn(entry, input, effect);
  }

  private forget(decisionId: string): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    this.pending.delete(decisionId);
    this.pendingBytes -= entry.bytes;
  }

  /** Closes a window at `now` (`force`: before its end, the memory cap) and learns what it left open. */
  private close(entry: PendingWindow, now: number, force = false): void {
    this.forget(entry.decisionId);
    const state = windowOf(entry, this.join);
    const effects = closeWindow(state, now, this.join, force);
    const input = effects.length > 0 ? inputOf(entry) : undefined;
    for (const effect of effects) this.learn(entry, input as PolicyInput, effect);
    for (const slot of state.slots) this.metrics.hot.joins.child(slot.count > 0 ? "joined" : "defaulted").inc();
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

  private learn(entry: PendingWindow, input: PolicyInput, effect: LearnEffect): void {
    const policy: Policy | undefined = this.policies.get(entry.policyId);
    if (!policy || effect.slot >= entry.itemIds.length) return;
    try {
      policy.update({
        input,
        index: effect.slot,
        position: positionOf(entry, effect.slot),
        reward: effect.reward,
        propensity: propensityOf(entry, effect.slot),
        placedBefore: placedBefore(effect.slot),
      });
      this.metrics.hot.policyUpdates.child(policy.id).inc();
    } catch (error) {
      this.logger.error({ err: error, policy: policy.id, decisionId: entry.decisionId }, "policy update failed");
    }
  }
}

/** [0, 1, …, slot − 1]: the slots placed before `slot` (shared, frozen arrays: no allocation per update). */
const PLACED_BEFORE: (readonly number[])[] = [];
function placedBefore(slot: number): readonly number[] {
  for (let s = PLACED_BEFORE.length; s <= slot; s++)
    PLACED_BEFORE.push(Object.freeze(Array.from({ length: s }, (_, i) => i)));
  return PLACED_BEFORE[slot]!;
}

/** A pending window as plain data (`OpenWindow`): structured-cloneable, for checkpoints. */
function plainWindow(w: PendingWindow): OpenWindow {
  const source: WindowSource = {
    decisionId: w.decisionId,
    policyId: w.policyId,
    decidedAt: w.decidedAt,
    activatedAt: w.activatedAt,
    slots: w.itemIds.map((itemId, s) => ({
      itemId,
      index: s,
      position: positionOf(w, s),
      propensity: propensityOf(w, s),
    })),
    input: inputOf(w),
    profile: w.profile,
  };
  return { source, state: w.state };
}
