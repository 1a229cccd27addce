import { type F64Data, F64Field } from "./snapshot-codec.js";

/**
 * A snapshot taken now whose large arrays are copied in steps, with the event loop free between them.
 * `step(max)` copies up to `max` more units (arms) and says whether the copy is complete; `result()` completes
 * what is left and returns exactly what `snapshot()` would have returned when the copy began, whatever the
 * policy learned meanwhile.
 *
 * Why: the registry saves the default policy every `policies.snapshotEvery`, and `snapshot()` copies every arm's
 * matrices at once: at its 2,000 arms ~35-70 MB in 4,000-8,000 typed arrays, 75-110 ms of main-thread CPU in one
 * turn (100-460 ms of wall time in the soak on a loaded machine: issue 12's soak stalls, found with
 * bench/support/profile-window.ts).
 */
export interface SlicedCopy<T> {
  step(max: number): boolean;
  result(): T;
}

/** A copy with nothing left to copy (state small enough to take at once). */
export function copiedAtOnce<T>(value: T): SlicedCopy<T> {
  return { step: () => true, result: () => value };
}

/** What a snapshot reads of one arm of the disjoint model (disjoint-gaussian.ts `Arm`). */
export interface ArmArrays {
  mu: Float64Array;
  /** Packed upper triangle (packed-symmetric.ts). */
  cov: Float64Array;
  servingMu: Float64Array | undefined;
  servingCov: Float64Array | undefined;
  dirty: boolean;
}

export interface ArmEntry {
  mu: F64Data;
  cov: F64Data;
  synced: boolean;
  servingMu?: F64Data;
  servingCov?: F64Data;
}

/** Whether a snapshot of the arm holds its serving copy too (the serving copy differs from the learner). */
function servingDiffers(a: ArmArrays): boolean {
  return a.servingMu !== undefined && a.servingCov !== undefined && a.dirty;
}

/** Doubles a snapshot of the arm holds. */
function armLength(a: ArmArrays): number {
  return (a.mu.length + a.cov.length) * (servingDiffers(a) ? 2 : 1);
}

/**
 * One arm as a snapshot holds it: copies of its arrays (base64 is written where the snapshot is serialized),
 * fresh ones, or views of `pool` from `at` (armLength doubles) that the snapshot owns.
 */
export function armEntry(a: ArmArrays, dims: number, pool?: Float64Array, at = 0): ArmEntry {
  const copyOf = (x: Float64Array) => {
    if (!pool) return x.slice();
    const view = pool.subarray(at, at + x.length);
    view.set(x);
    at += x.length;
    return view;
  };
  const synced = a.servingMu !== undefined && a.servingCov !== undefined;
  const mu = new F64Field(copyOf(a.mu));
  const cov = new F64Field(copyOf(a.cov), dims);
  if (!servingDiffers(a)) return { mu, cov, synced };
  const servingMu = new F64Field(copyOf(a.servingMu as Float64Array));
  return { mu, cov, synced, servingMu, servingCov: new F64Field(copyOf(a.servingCov as Float64Array), dims) };
}

/**
 * The arms of a disjoint model as they were when the copy began, copied a few at a time: copy on write. The
 * model calls `beforeChange(arm)` before it changes an arm's arrays or flags (an update, a serving sync), and an
 * arm still waiting is copied then, so every entry holds the arm's state at the start. Arms created after the
 * start are not in it; arms evicted after the start still are (their arrays are never reused).
 */
export class ArmCopier implements SlicedCopy<[string, ArmEntry][]> {
  private readonly entries: [string, ArmEntry][];
  /** Arms not copied yet, with their index in `entries` (the model's order at the start). */
  private readonly waiting = new Map<ArmArrays, number>();
  private readonly ids: string[] = [];
  private readonly arms: ArmArrays[] = [];
  /**
   * Every arm's copy in one buffer (its place at `starts[i]`): one allocation instead of two to four per arm,
   * and one buffer to hand to a thread instead of thousands (each cost ~5 µs to post). Shared memory, so that a
   * thread can read the copy while this one still uses it (the learner serializes its full checkpoint and full
   * version on a thread, then publishes and saves the same snapshot: duties/full-encoder.ts); nothing writes it
   * once an arm is copied.
   */
  private readonly pool: Float64Array;
  private readonly starts: number[] = [];
  private next = 0;

  constructor(
    arms: Iterable<[string, ArmArrays]>,
    private readonly dims: number,
  ) {
    let length = 0;
    for (const [id, arm] of arms) {
      this.waiting.set(arm, this.ids.length);
      this.ids.push(id);
      this.arms.push(arm);
      this.starts.push(length);
      length += armLength(arm); // the arm's state now: what it is when copied (copy on write)
    }
    this.entries = new Array(this.ids.length);
    this.pool = new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
  }

  get done(): boolean {
    return this.waiting.size === 0;
  }

  beforeChange(arm: ArmArrays): void {
    const i = this.waiting.get(arm);
    if (i !== undefined) this.copy(i);
  }

  step(max: number): boolean {
    for (let copied = 0; copied < max && this.next < this.arms.length; this.next++) {
      if (!this.waiting.has(this.arms[this.next] as ArmArrays)) continue; // copied before a change
      this.copy(this.next);
      copied++;
    }
    return this.done;
  }

  result(): [string, ArmEntry][] {
    this.step(Number.POSITIVE_INFINITY);
    return this.entries;
  }

  private copy(i: number): void {
    const arm = this.arms[i] as ArmArrays;
    this.waiting.delete(arm);
    this.entries[i] = [this.ids[i] as string, armEntry(arm, this.dims, this.pool, this.starts[i])];
  }
}
