import type { Logger } from "pino";
import { LearningLoop, type OpenWindow } from "../app/learning.js";
import type { EngineMetrics } from "../app/metrics.js";
import type { Policy } from "../bandit/policy.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { arrivalOf } from "../decisions/reward-reducer.js";
import { decodeRecord } from "../storage/sqlite/record-codec.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import { type AwaitingDecision, type JoinColumns, JoinColumnsWriter } from "./join-columns.js";
import { serverTime } from "./partition-merge.js";

/**
 * The joiner of one policy as a stream consumer: the same `LearningLoop` and reward reducer the embedded path
 * uses (app/learning.ts, decisions/reward-reducer.ts), fed by stream entries instead of direct calls, so there
 * is one join. Pure: no I/O, no clock; time is the stream's own.
 *
 * **Time.** Every decision, activation and reward entry carries a server time (the decision's timestamp,
 * the activation's `at`, the reward's `receivedAt`). The watermark is the newest such time applied. A window
 * closes when `watermark - slackMs` passes its end: the slack absorbs entries of one partition that API nodes
 * appended slightly out of time order (commit latency, clock skew between nodes), so a reward received inside
 * its window but appended after a later entry is still counted, as the log counts it. When the whole stream
 * is caught up, the duty closes through the clock instead (`closeThrough(now - slackMs)`): otherwise the last
 * windows of a quiet stream would never close.
 *
 * **Dedupe** (delivery into the stream is at least once): a decision id already seen (open, awaiting its
 * activation, or tracked within the last two windows) is ignored; so is an activated decision whose whole
 * window already ended on the stream's time (nothing can be learned from it any more without learning a
 * default twice). A reward id seen twice counts once (the reducer's `rewardIds`); a reward for a decision
 * whose window is closed or unknown changes nothing.
 */
export interface JoinOptions {
  /** How far behind the watermark windows close (ms). Default 5 s. */
  slackMs: number;
  /** Deferred decisions remembered while they wait for `activate` (oldest dropped past it). */
  maxAwaiting: number;
  /** A deferred decision not activated within this long (stream time) is forgotten. Default 1 day. */
  awaitActivationMs: number;
}

export const DEFAULT_JOIN_OPTIONS: JoinOptions = {
  slackMs: 5_000,
  maxAwaiting: 100_000,
  awaitActivationMs: 86_400_000,
};

/** A deferred decision waiting for its activation: its record bytes (decoded only if it is activated). */
type Awaiting = AwaitingDecision;

/**
 * What changed since the last `takeDelta` or `resetDelta`, for an incremental checkpoint (learner-checkpoint.ts):
 * the windows opened or rewarded (as they are now, if still open), and every addition to and removal from the
 * deferred decisions and the seen ids, in order. Windows closed are not listed: they are the windows, in open
 * order, up to the first one ending after `closedThrough` (the join closes through a time only, and never
 * opens a window that ended by then), which `applyJoinDelta` drops again.
 */
export interface JoinDelta {
  windows: OpenWindow[];
  awaiting: ([string, Awaiting] | [string])[];
  seen: ([string, number] | [string])[];
  watermark: number;
  closedThrough: number;
}

/** The join's state as columns (join-columns.ts), for a full checkpoint (learner-checkpoint.ts). */
export interface JoinStateColumns {
  columns: JoinColumns;
  watermark: number;
  closedThrough: number;
}

/** The join's state as plain data, for the checkpoint (learner-checkpoint.ts). */
export interface JoinState {
  windows: OpenWindow[];
  awaiting: [string, Awaiting][];
  /** Decision ids tracked recently and when they may be forgotten (stream time). */
  seen: [string, number][];
  watermark: number;
  closedThrough: number;
}

export class StreamJoin {
  readonly loop: LearningLoop;
  private awaiting = new Map<string, Awaiting>();
  private seen = new Map<string, number>();
  private watermark = Number.NEGATIVE_INFINITY;
  private closedThrough = Number.NEGATIVE_INFINITY;
  /** Decision entries ignored as duplicates or past their window (for tests and metrics). */
  ignoredDecisions = 0;
  /** Since the last delta: windows opened or rewarded (in that order), and the changes to `awaiting` and `seen`. */
  private touched = new Set<string>();
  private awaitingOps: JoinDelta["awaiting"] = [];
  private seenOps: JoinDelta["seen"] = [];
  /** While `encodeState` reads the state between pauses: nothing may change it. */
  private encoding = false;

  constructor(
    readonly policyId: string,
    private readonly join: JoinConfig,
    policy: () => Policy | undefined,
    metrics: EngineMetrics,
    logger: Logger,
    private readonly options: JoinOptions = DEFAULT_JOIN_OPTIONS,
  ) {
    const provider = { get: (id: string) => (id === policyId ? policy() : undefined) };
    // No memory cap here: closing a window early would make the result depend on batching, not the stream.
    this.loop = new LearningLoop(join, provider, metrics, logger, {
      maxPendingBytes: Number.POSITIVE_INFINITY,
      maxPending: Number.POSITIVE_INFINITY,
    });
  }

  /**
   * Applies one entry in the stream's merged order (partition-merge.ts), after closing what its time passed.
   * Closing first changes nothing an entry can do (a reward received after a window ended is late for it
   * either way) but makes the order of policy updates the same whether a window closes on the stream's time
   * or on the clock (`closeThrough` from the duty while the stream is quiet): a window the clock closed
   * before this entry is one this entry would have closed before applying itself.
   */
  apply(entry: StreamEntry): void {
    this.assertNotEncoding();
    const t = entryTime(entry);
    if (t === undefined) return;
    if (t > this.watermark) this.watermark = t;
    this.closeThrough(this.watermark - this.options.slackMs);
    if (entry.kind === "decision") this.onDecision(entry);
    else if (entry.kind === "activate") this.onActivate(entry.decisionId, entry.at);
    else if (entry.kind === "reward") {
      const r = entry.reward;
      const reward = { rewardId: r.rewardId, value: r.value, receivedAt: arrivalOf(r) };
      if (this.loop.isOpen(r.decisionId)) this.touched.add(r.decisionId);
      this.loop.onReward(r.decisionId, r.itemId === undefined ? reward : { ...reward, itemId: r.itemId });
    }
  }

  /** Closes every window that ended by `t` (monotone: an earlier `t` than before does nothing). */
  closeThrough(t: number): void {
    if (t <= this.closedThrough) return;
    this.assertNotEncoding();
    this.closedThrough = t;
    this.loop.closeWindows(t);
    for (const [id, forgetAt] of this.seen) {
      if (forgetAt > t) break;
      this.seen.delete(id);
      this.seenOps.push([id]);
    }
    for (const [id, a] of this.awaiting) {
      if (a.timestamp + this.options.awaitActivationMs > t) break;
      this.dropAwaiting(id);
    }
  }

  get openWindows(): number {
    return this.loop.size;
  }

  get waiting(): number {
    return this.awaiting.size;
  }

  toState(): JoinState {
    return {
      windows: this.loop.openWindows(),
      awaiting: [...this.awaiting],
      seen: [...this.seen],
      watermark: this.watermark,
      closedThrough: this.closedThrough,
    };
  }

  /**
   * The state as columns for a full checkpoint, the open windows read `batch` at a time with `pause()` between
   * (500 windows: ~10 ms of CPU): at 53k windows one synchronous pass is ~0.5 s on the event loop that renews
   * the worker's leases. The
   * state must not change until this resolves (it is read in place, not copied): the learner duty awaits it
   * inside its step, and `apply` and `closeThrough` throw meanwhile.
   */
  async encodeState(pause: () => Promise<void>, batch = 500): Promise<JoinStateColumns> {
    this.encoding = true;
    try {
      const writer = new JoinColumnsWriter();
      const ids = this.loop.openWindowIds();
      for (let i = 0; i < ids.length; i += batch) {
        if (i > 0) await pause();
        writer.addWindows(this.loop.openWindowsOf(ids.slice(i, i + batch)));
      }
      writer.addAwaiting(this.awaiting);
      await pause();
      writer.addSeen(this.seen);
      await pause();
      const columns = writer.done();
      await pause();
      return { columns, watermark: this.watermark, closedThrough: this.closedThrough };
    } finally {
      this.encoding = false;
    }
  }

  private assertNotEncoding(): void {
    if (this.encoding) throw new Error(`learner ${this.policyId}: the join changed while a checkpoint read it`);
  }

  /** What changed since the last delta (see `JoinDelta`); the next delta starts from here. */
  takeDelta(): JoinDelta {
    const delta: JoinDelta = {
      windows: this.loop.openWindowsOf(this.touched),
      awaiting: this.awaitingOps,
      seen: this.seenOps,
      watermark: this.watermark,
      closedThrough: this.closedThrough,
    };
    this.resetDelta();
    return delta;
  }

  /** The next delta starts from here (after a full checkpoint of `toState`). */
  resetDelta(): void {
    this.touched = new Set();
    this.awaitingOps = [];
    this.seenOps = [];
  }

  /**
   * `restore`, the windows put back `batch` at a time with `pause()` between (repacking 50k windows is a few
   * hundred ms of CPU on the event loop that renews the worker's other leases).
   */
  async restoreInSlices(state: JoinState, pause: () => Promise<void>, batch = 1_000): Promise<void> {
    for (let i = 0; i < state.windows.length; i += batch) {
      if (i > 0) await pause();
      this.loop.restoreWindows(state.windows.slice(i, i + batch));
    }
    this.restore({ ...state, windows: [] });
  }

  /** Restores a checkpointed state into this (fresh) join. */
  restore(state: JoinState): void {
    this.loop.restoreWindows(state.windows);
    this.awaiting = new Map(state.awaiting);
    this.seen = new Map(state.seen);
    this.watermark = state.watermark;
    this.closedThrough = state.closedThrough;
  }

  private onDecision(entry: Extract<StreamEntry, { kind: "decision" }>): void {
    const d = entry.decision;
    if (d.policyId !== this.policyId) return;
    if (this.seen.has(d.decisionId) || this.awaiting.has(d.decisionId) || this.loop.isOpen(d.decisionId)) {
      this.ignoredDecisions++;
      return;
    }
    if (!d.activated) {
      const waiting = { timestamp: d.timestamp, bytes: d.bytes };
      this.awaiting.set(d.decisionId, waiting);
      this.awaitingOps.push([d.decisionId, waiting]);
      while (this.awaiting.size > this.options.maxAwaiting) this.dropAwaiting(this.awaiting.keys().next().value!);
      return;
    }
    this.open(d.decisionId, decodeForLearning(d.bytes), d.activatedAt ?? d.timestamp);
  }

  private onActivate(decisionId: string, at: number): void {
    const waiting = this.awaiting.get(decisionId);
    if (!waiting) return; // not ours, already active, or a repeated activation
    this.dropAwaiting(decisionId);
    this.open(decisionId, decodeForLearning(waiting.bytes), at);
  }

  private open(decisionId: string, record: DecisionRecord, activatedAt: number): void {
    const endsAt = activatedAt + this.join.windowMs;
    if (endsAt <= this.closedThrough) {
      this.ignoredDecisions++; // its whole window passed on the stream's time: a re-append, or far too late
      return;
    }
    const forgetAt = endsAt + this.join.windowMs;
    this.seen.set(decisionId, forgetAt);
    this.seenOps.push([decisionId, forgetAt]);
    this.loop.track({ ...record, activated: true, activatedAt });
    this.touched.add(decisionId);
  }

  private dropAwaiting(decisionId: string): void {
    this.awaiting.delete(decisionId);
    this.awaitingOps.push([decisionId]);
  }
}

/**
 * A checkpointed state with a delta applied (`JoinDelta`), as plain data: windows rewritten or appended in
 * the delta's order, then those the join closed dropped (in open order, up to the first one ending after
 * `closedThrough`: what `closeThrough` closed), deferred decisions and seen ids changed in order.
 */
export function applyJoinDelta(state: JoinState, delta: JoinDelta, windowMs: number): JoinState {
  const windows = new Map(state.windows.map((w) => [w.source.decisionId, w]));
  for (const w of delta.windows) windows.set(w.source.decisionId, w);
  for (const [id, w] of windows) {
    if (w.source.activatedAt + windowMs > delta.closedThrough) break;
    windows.delete(id);
  }
  return {
    windows: [...windows.values()],
    awaiting: replayOps(state.awaiting, delta.awaiting),
    seen: replayOps(state.seen, delta.seen),
    watermark: delta.watermark,
    closedThrough: delta.closedThrough,
  };
}

function replayOps<V>(entries: [string, V][], ops: ([string, V] | [string])[]): [string, V][] {
  const map = new Map(entries);
  for (const op of ops) {
    if (op.length === 1) map.delete(op[0]);
    else map.set(op[0], op[1]);
  }
  return [...map];
}

/** A decision as the join needs it: the window keeps the shown slots' propensities, not their distributions. */
function decodeForLearning(bytes: Uint8Array): DecisionRecord {
  return decodeRecord(bytes, { probabilities: false });
}

/** An entry's server time (what the watermark follows); undefined for entries the learner does not read. */
export function entryTime(entry: StreamEntry): number | undefined {
  return entry.kind === "event" || entry.kind === "exposure" ? undefined : serverTime(entry);
}
