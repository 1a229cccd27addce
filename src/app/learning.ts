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
  Field,
  type PendingWindow,
  positionOf,
  propensityOf,
  slotCount,
  WindowPacker,
  type WindowSource,
} from "./pending-window.js";
import type { PolicyProvider } from "./ports.js";
import { policyInputOf } from "./rank.js";

/** Windows closed at most per event-loop turn by the timer's close (`closeWindowsInSlices`). */
const CLOSE_SLICE = 16;

/**
 * Main-thread time one turn of the timer's close may take before it yields (at least one window a turn). A
 * default-policy window's close is 10 updates, 0.3-1 ms, ~16 ms for a slice of 16 on a loaded machine: every
 * request arriving meanwhile waited that long (issue 12: nothing over ~10 ms at a fixed rate). At 2 ms a request
 * waits for at most one short slice; closes keep pace with traffic (each turn still closes several windows, and
 * the turns follow each other whenever nothing else is ready).
 */
export const CLOSE_BUDGET_MS = 2;

/** A turn's time budget for `closeWindows`: stop once `now()` passed `ms` after the first close (ms clock). */
export interface CloseBudget {
  ms: number;
  now: () => number;
}

const CLOSE_BUDGET: CloseBudget = { ms: CLOSE_BUDGET_MS, now: () => performance.now() };

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
  /** Open windows by decision id, in close order (packed records: app/pending-window.ts). */
  private readonly pending = new Map<string, PendingWindow>();
  /** The reducer's state of the windows a reward reached (most never see one: built at close then). */
  private readonly states = new Map<string, WindowState>();
  private readonly packer = new WindowPacker();
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
    const entry = this.packer.pack(
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
    );
    this.forget(record.decisionId); // a re-track replaces the entry
    this.pending.set(record.decisionId, entry);
    this.pendingBytes += entry[Field.Bytes]!;
    this.enforceLimits();
    this.publish();
  }

  /** A reward for `decisionId` was received now (its `receivedAt` stamped): keep its window open for it. */
  hold(decisionId: string): void {
    const entry = this.pending.get(decisionId);
    if (entry) entry[Field.InFlight]!++;
  }

  /** The held reward's write settled: apply it when the log counted it (`accepted`), then release the hold. */
  release(decisionId: string, accepted?: ArrivedReward): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    entry[Field.InFlight] = Math.max(0, entry[Field.InFlight]! - 1);
    if (accepted) this.apply(decisionId, entry, accepted);
    if (entry[Field.CloseDue] === 1 && entry[Field.InFlight] === 0 && this.pending.get(decisionId) === entry) {
      this.close(decisionId, entry, Number.POSITIVE_INFINITY);
      this.publish();
    }
  }

  /** A reward the log counted, applied at once (no write in flight: tests, replays). */
  onReward(decisionId: string, reward: ArrivedReward): void {
    const entry = this.pending.get(decisionId);
    if (entry) this.apply(decisionId, entry, reward);
  }

  /**
   * Closes every window that ended by `now` (at most `max`, oldest first). Call on a timer (or after advancing a
   * simulated clock).
   */
  closeWindows(now: number, max = Number.POSITIVE_INFINITY, budget?: CloseBudget): number {
    let closed = 0;
    const end = budget ? budget.now() + budget.ms : Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.pending) {
      // Entries are tracked at activation, so insertion order is close order: stop at the first open one.
      if (entry[Field.ClosesAt]! > now || closed >= max) break;
      if (entry[Field.InFlight]! > 0) {
        entry[Field.CloseDue] = 1;
        continue;
      }
      this.close(id, entry, now);
      closed++;
      if (budget && budget.now() >= end) break; // the turn's time is up: the caller's next turn goes on
    }
    if (closed > 0) this.publish();
    return closed;
  }

  /**
   * `closeWindows(now)` in slices of `slice` windows with the event loop free between them: windows end at the
   * rate traffic opened them, and each close learns every slot it shows (10 policy updates, ~1 ms), so one
   * second of traffic at 500 decisions/s closing in one turn would hold every request for ~0.5 s. A slice ends
   * after `slice` windows or once it took `budget` (CLOSE_BUDGET_MS of main-thread time by default), whichever
   * comes first. A window is closed on its end (a reward received after it is late whenever the close runs), so
   * closing a few turns later changes nothing it learns. One pass at a time: a call while one runs moves its
   * watermark and joins it.
   */
  closeWindowsInSlices(
    now: number,
    slice = CLOSE_SLICE,
    budget: CloseBudget | undefined = CLOSE_BUDGET,
  ): Promise<number> {
    this.closeUntil = Math.max(this.closeUntil, now);
    if (this.closing) return this.closing;
    // A slice that stopped short of `slice` windows without its budget spent found no more ended windows.
    const finished = (n: number, started: number) => n < slice && (!budget || budget.now() - started < budget.ms);
    let started = budget?.now() ?? 0;
    const first = this.closeWindows(this.closeUntil, slice, budget);
    if (finished(first, started)) return Promise.resolve(first); // all done in this turn: nothing left running
    // The pass awaits before its `finally` can run, so `closing` is set before it is cleared.
    const pass = (async () => {
      let closed = first;
      try {
        for (;;) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          started = budget?.now() ?? 0;
          const n = this.closeWindows(this.closeUntil, slice, budget);
          closed += n;
          if (finished(n, started)) return closed;
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
    return entry && this.packer.itemIds(entry);
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
    return [...this.pending.keys()].map((id) => this.plainWindow(id));
  }

  /** The open windows' decision ids in close order (`openWindows`' order): a full checkpoint reads them in slices. */
  openWindowIds(): string[] {
    return [...this.pending.keys()];
  }

  /** The open windows among `decisionIds`, as plain data, in the order given (an incremental checkpoint). */
  openWindowsOf(decisionIds: Iterable<string>): OpenWindow[] {
    const out: OpenWindow[] = [];
    for (const id of decisionIds) if (this.pending.has(id)) out.push(this.plainWindow(id));
    return out;
  }

  /** Puts checkpointed windows back (after `openWindows` on another loop), replacing any with the same id. */
  restoreWindows(windows: readonly OpenWindow[]): void {
    for (const { source, state } of windows) {
      this.forget(source.decisionId);
      const entry = this.packer.pack(source, this.join);
      if (state) this.states.set(source.decisionId, state);
      this.pending.set(source.decisionId, entry);
      this.pendingBytes += entry[Field.Bytes]!;
    }
    this.publish();
  }

  /** What a decision still inside its reward window showed, and when (undefined once the window closed). */
  pendingShown(decisionId: string): { items: string[]; timestamp: number } | undefined {
    const entry = this.pending.get(decisionId);
    return entry && { items: this.packer.itemIds(entry), timestamp: entry[Field.DecidedAt]! };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Estimated bytes held for open windows. */
  get bytes(): number {
    return this.pendingBytes;
  }

  /** Values the open windows share (item ids, catalog feature objects, strings), held once each. */
  get sharedValues(): number {
    return this.packer.sharedValues;
  }

  /** The reducer's state of an open window, built (as openWindow would have at activation) on first use. */
  private windowOf(decisionId: string, entry: PendingWindow): WindowState {
    let state = this.states.get(decisionId);
    if (!state) {
      state = this.packer.windowState(entry, this.join);
      this.states.set(decisionId, state);
    }
    return state;
  }

  private apply(decisionId: string, entry: PendingWindow, reward: ArrivedReward): void {
    const { effects } = applyReward(this.windowOf(decisionId, entry), reward, this.join);
    if (effects.length === 0) return;
    // The slots up to the last one learned: the input an update of each reads (pending-window.ts inputOf).
    let upTo = 0;
    for (const effect of effects) upTo = Math.max(upTo, effect.slot + 1);
    const input = this.packer.inputOf(entry, upTo);
    const policyId = this.packer.policyOf(entry);
    for (const effect of effects) this.update(decisionId, policyId, slotCount(entry), input, feedbackOf(entry, effect));
  }

  /** Drops a window and what only it referenced (packer.release). */
  private forget(decisionId: string): void {
    const entry = this.pending.get(decisionId);
    if (!entry) return;
    this.pending.delete(decisionId);
    this.states.delete(decisionId);
    this.pendingBytes -= entry[Field.Bytes]!;
    this.packer.release(entry);
  }

  /**
   * Closes a window at `now` (`force`: before its end, the memory cap) and learns what it left open. It is
   * unpacked before it is forgotten (forgetting frees what it references), and forgotten before the updates run,
   * as a closed window must be whatever an update does.
   */
  private close(decisionId: string, entry: PendingWindow, now: number, force = false): void {
    const state = this.windowOf(decisionId, entry);
    const effects = closeWindow(state, now, this.join, force);
    const input = effects.length > 0 ? this.packer.inputOf(entry) : undefined;
    const policyId = this.packer.policyOf(entry);
    const slots = slotCount(entry);
    const feedback = effects.map((effect) => feedbackOf(entry, effect));
    this.forget(decisionId);
    for (const f of feedback) this.update(decisionId, policyId, slots, input as PolicyInput, f);
    for (const slot of state.slots) this.metrics.hot.joins.child(slot.count > 0 ? "joined" : "defaulted").inc();
  }

  /** Past a limit, the oldest windows close now: they learn from the rewards they have (else the default). */
  private enforceLimits(): void {
    const { maxPendingBytes, maxPending } = this.limits;
    let early = 0;
    for (const [id, entry] of this.pending) {
      if (this.pendingBytes <= maxPendingBytes && this.pending.size <= maxPending) break;
      const reason = this.pendingBytes > maxPendingBytes ? "bytes" : "count";
      this.close(id, entry, Number.NEGATIVE_INFINITY, true);
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

  private update(decisionId: string, policyId: string, slots: number, input: PolicyInput, f: SlotFeedback): void {
    const policy: Policy | undefined = this.policies.get(policyId);
    if (!policy || f.effect.slot >= slots) return;
    try {
      policy.update({
        input,
        index: f.effect.slot,
        position: f.position,
        reward: f.effect.reward,
        propensity: f.propensity,
        placedBefore: placedBefore(f.effect.slot),
      });
      this.metrics.hot.policyUpdates.child(policy.id).inc();
    } catch (error) {
      this.logger.error({ err: error, policy: policy.id, decisionId }, "policy update failed");
    }
  }

  /** An open window as plain data (`OpenWindow`): structured-cloneable, for checkpoints. */
  private plainWindow(decisionId: string): OpenWindow {
    const w = this.pending.get(decisionId)!;
    const source: WindowSource = {
      decisionId,
      policyId: this.packer.policyOf(w),
      decidedAt: w[Field.DecidedAt]!,
      activatedAt: w[Field.ActivatedAt]!,
      slots: this.packer.itemIds(w).map((itemId, s) => ({
        itemId,
        index: s,
        position: positionOf(w, s),
        propensity: propensityOf(w, s),
      })),
      input: this.packer.inputOf(w),
      profile: this.packer.profileOf(w),
    };
    return { source, state: this.states.get(decisionId) };
  }
}

/** What an update of one slot reads of its window, taken before the window is forgotten. */
interface SlotFeedback {
  effect: LearnEffect;
  position: number;
  propensity: number;
}

function feedbackOf(entry: PendingWindow, effect: LearnEffect): SlotFeedback {
  return { effect, position: positionOf(entry, effect.slot), propensity: propensityOf(entry, effect.slot) };
}

/** [0, 1, …, slot − 1]: the slots placed before `slot` (shared, frozen arrays: no allocation per update). */
const PLACED_BEFORE: (readonly number[])[] = [];
function placedBefore(slot: number): readonly number[] {
  for (let s = PLACED_BEFORE.length; s <= slot; s++)
    PLACED_BEFORE.push(Object.freeze(Array.from({ length: s }, (_, i) => i)));
  return PLACED_BEFORE[slot]!;
}
