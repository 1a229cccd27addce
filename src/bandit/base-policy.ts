import { type Rng, sampleIndex } from "../core/rng.js";
import { placedMask } from "./distributions.js";
import type { Policy, PolicyFeedback, PolicyInput, PolicySpec, SlotChoice } from "./policy.js";
import { copiedAtOnce, type SlicedCopy } from "./sliced-snapshot.js";

/** What `Policy.snapshot()` returns for every policy here; `restorePolicy` takes it back. */
export interface PolicySnapshot {
  id: string;
  type: string;
  version: number;
  spec: PolicySpec;
  progress: PolicyProgress;
  /** Type-specific learned state (JSON-safe). */
  state: unknown;
}

export interface PolicyProgress {
  /** Rewards applied (update() calls). */
  updates: number;
  rewardSum: number;
  /** Rewards per position (slot), for position-aware monitoring. */
  perPosition: Record<string, { updates: number; rewardSum: number }>;
}

/**
 * Shared mechanics of every policy: a policy only says how to prepare a request (encode, score, pick a
 * sample pool) and how to turn that into the conditional distribution of one slot; rank() then draws
 * each slot from exactly that distribution with the caller's RNG, so propensities are exact and a
 * decision replays from its seed.
 */
export abstract class BasePolicy<P = unknown> implements Policy {
  readonly id: string;
  readonly type: string;
  readonly spec: PolicySpec;
  /** See `version` and `servedAs`. */
  private versionLabel: number;
  protected progress: PolicyProgress = { updates: 0, rewardSum: 0, perPosition: {} };
  /** rank()'s placed-candidates mask, reused across calls (rank is synchronous; policies copy what they keep). */
  private rankMask = new Uint8Array(0);

  constructor(id: string, type: string, version: number, spec: PolicySpec) {
    this.id = id;
    this.type = type;
    this.versionLabel = version;
    this.spec = spec;
  }

  /** The version rank logs with a decision (app/rank.ts): propensities replay against that version's state. */
  get version(): number {
    return this.versionLabel;
  }

  /**
   * Labels the state this policy holds now as `version`. For an API node serving its mirror of the learner's
   * policy in place (app/policy-follower.ts): after a published version's updates are replayed on it, in the same
   * synchronous run, so no request sees the new parameters under the old label or the reverse.
   */
  servedAs(version: number): void {
    this.versionLabel = version;
  }

  /** Per-request work shared by all slots (encoding, scoring, pool lookup). */
  protected abstract prepare(input: PolicyInput): P;
  /**
   * The conditional distribution of the next slot; `mask[c] = 1` for placed candidates. `out`, when given, is a
   * zeroed array of n that the policy may fill and return instead of allocating one (rank() hands out slices of
   * one buffer per decision); a policy that ignores it returns its own array.
   */
  protected abstract slotDistribution(prepared: P, mask: Uint8Array, out?: Float64Array): Float64Array;
  /** Learn from one reward. */
  protected abstract learn(feedback: PolicyFeedback): void;
  /** Type-specific state for the snapshot. */
  protected abstract state(): unknown;
  /** Type-specific parameters for describe(). */
  protected abstract parameters(): Record<string, unknown>;

  distribution(input: PolicyInput, placed?: readonly number[]): Float64Array {
    const n = input.candidates.length;
    if (n === 0) return new Float64Array(0);
    return this.slotDistribution(this.prepare(input), placedMask(n, placed));
  }

  rank(input: PolicyInput, slots: number, rng: Rng): SlotChoice[] {
    const n = input.candidates.length;
    const k = Math.min(Math.max(0, Math.floor(slots)), n);
    if (k === 0) return [];
    const prepared = this.prepare(input);
    if (this.rankMask.length < n) this.rankMask = new Uint8Array(2 * n);
    const mask = this.rankMask.subarray(0, n);
    mask.fill(0);
    // One buffer for every slot's distribution (one allocation, not k): each slot keeps its own slice, which the
    // decision record logs, so the slices are never reused.
    const distributions = new Float64Array(k * n);
    const out: SlotChoice[] = [];
    for (let position = 0; position < k; position++) {
      const slice = distributions.subarray(position * n, (position + 1) * n);
      const probabilities = this.slotDistribution(prepared, mask, slice);
      const index = sampleIndex(probabilities, rng);
      out.push({ position, index, propensity: probabilities[index]!, probabilities });
      mask[index] = 1;
    }
    return out;
  }

  update(feedback: PolicyFeedback): void {
    const { reward, position, index } = feedback;
    if (!Number.isFinite(reward)) throw new Error(`reward must be finite, got ${reward}`);
    if (index < 0 || index >= feedback.input.candidates.length) {
      throw new Error(`feedback index ${index} is outside 0..${feedback.input.candidates.length - 1}`);
    }
    this.learn(feedback);
    this.progress.updates++;
    this.progress.rewardSum += reward;
    const key = String(position);
    const slot = this.progress.perPosition[key] ?? { updates: 0, rewardSum: 0 };
    this.progress.perPosition[key] = slot;
    slot.updates++;
    slot.rewardSum += reward;
  }

  describe(): Record<string, unknown> {
    const { updates, rewardSum, perPosition } = this.progress;
    return {
      id: this.id,
      type: this.type,
      version: this.version,
      params: this.parameters(),
      features: this.spec.features ?? {},
      progress: {
        updates,
        rewardMean: updates > 0 ? rewardSum / updates : null,
        perPosition: Object.fromEntries(
          Object.entries(perPosition).map(([k, v]) => [k, { updates: v.updates, rewardMean: v.rewardSum / v.updates }]),
        ),
      },
    };
  }

  snapshot(): PolicySnapshot {
    return {
      id: this.id,
      type: this.type,
      version: this.version,
      spec: structuredClone(this.spec),
      progress: structuredClone(this.progress),
      state: this.state(),
    };
  }

  /**
   * `snapshot()` as of now, its large arrays copied in steps with the event loop free between them
   * (sliced-snapshot.ts): the registry's periodic save. Learning may go on meanwhile; the result is still the
   * state at this call.
   */
  snapshotInSlices(): SlicedCopy<PolicySnapshot> {
    const head = {
      id: this.id,
      type: this.type,
      version: this.version,
      spec: structuredClone(this.spec),
      progress: structuredClone(this.progress),
    };
    const state = this.stateInSlices();
    return { step: (max) => state.step(max), result: () => ({ ...head, state: state.result() }) };
  }

  /** `state()` copied in steps; by default at once (a policy whose state is small). */
  protected stateInSlices(): SlicedCopy<unknown> {
    return copiedAtOnce(this.state());
  }

  /** Used by restore functions after construction. */
  restoreProgress(progress: PolicyProgress): void {
    this.progress = structuredClone(progress);
  }

  get updates(): number {
    return this.progress.updates;
  }
}
