import { ArenaLayout } from "./arena-layout.js";
import type { ItemHandles } from "./item-handles.js";

/**
 * The disjoint model's serving posteriors (μ and Σ of every synced arm) side by side in a few large arrays,
 * arm = slot, read by serving predictions (disjoint-gaussian.ts). A copy of what the arms hold, written when their
 * serving copy changes (a sync, a restore) and dropped with the arm: the arms stay the source of truth (updates,
 * snapshots), the arena only serves reads.
 *
 * Why (issue 12, stop 25): a serving prediction of ~100 arms out of ~800 is bound by memory. Through the arms, each
 * candidate is a chain of dependent reads (Map entry, arm object, two typed-array objects, their data) before its
 * ~20 scattered entries of μ and Σ; here it is a Map entry holding a small integer, then the entries at fixed
 * offsets of a chunk whose array the loop already holds. Measured on the rank bench's inputs (one process, the
 * same plan, caches partly flushed between requests): the disjoint part's predict 0.64-0.70x. A chunk holds
 * CHUNK arms, so the arena grows without copying what it holds (no stall while the arms fill up).
 *
 * The copy is float32 (issue 12, stop 26): the reads are bound by memory, and half the bytes is half the cache lines
 * a request's ~100 arms bring in (the default policy's rank CPU ~0.9x, ab-policy.ts). The sums stay float64. So every
 * serving prediction of a synced context-only arm, and hence every pool, propensity and offline `distribution()`
 * call, is computed from the serving μ and Σ rounded to float32 (relative 2^-24 per entry): one set of numbers,
 * written alike at a sync, a restore and a follower's replayed sync, so a decision still replays bit for bit from
 * its seed. The arms keep float64 (learning, snapshots and serving paths through the arms are unchanged). A rounded
 * Σ may be a hair off positive semi-definite: a variance that comes out below 0 is read as 0, as before.
 */
const CHUNK = 64;
const CHUNK_BITS = 6;

export class ServingArena {
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];
  private next = 0;
  private readonly chunks: Float32Array[] = [];
  /** Where an arm's μ and Σ entries are (arena-layout.ts): the slots most requests list at the end of the arm. */
  readonly layout: ArenaLayout;
  /** Numbers per arm: the packed triangle and μ. */
  readonly stride: number;
  /** resolve()'s per-candidate slots (−1: no serving copy, read as the prior), reused across requests. */
  private resolved = new Int32Array(0);
  /** By item handle (item-handles.ts): the arm's slot, −1 when none; for handles of era `era`. */
  private slotOf = new Int32Array(0);
  private era = -1;
  /** resolveIds()'s handles, reused across calls. */
  private idHandles = new Int32Array(0);
  /** resolve()'s sum of the entries it touched, kept so the reads are not optimized away. */
  touched = 0;

  constructor(
    /** Slots of x (μ's length). */
    readonly dims: number,
    /** The arms' own packed layout (packed-symmetric.ts), to read their arrays. */
    packedOffsets: Int32Array,
    /** The item handles resolve() is given (shared with the policy's noise bank). */
    readonly items: ItemHandles,
  ) {
    this.layout = new ArenaLayout(dims, packedOffsets);
    this.stride = this.layout.stride;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Stores a copy of the arm's serving μ and packed Σ, rounded to float32. */
  write(id: string, mu: Float64Array, cov: Float64Array): void {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.next++;
      this.slots.set(id, slot);
      this.index(id, slot);
      if (slot >> CHUNK_BITS >= this.chunks.length) this.chunks.push(new Float32Array(CHUNK * this.stride));
    }
    this.writeAt(slot, mu, cov);
  }

  private writeAt(slot: number, mu: Float64Array, cov: Float64Array): void {
    const data = this.dataOf(slot);
    const base = this.baseOf(slot);
    const { dims, layout } = this;
    const { muAt, sigmaAt } = layout;
    for (let i = 0; i < dims; i++) data[base + muAt[i]!] = mu[i]!;
    // The arm's packed Σ read in order, each entry written to its place (within the arm's ~8 KB).
    for (let t = 0, n = sigmaAt.length; t < n; t++) data[base + sigmaAt[t]!] = cov[t]!;
  }

  /**
   * At a sync: when the layout changed (arena-layout.ts), every arm is written again in the new one from its serving
   * copy, `servingOf(id)` (every arm here has one: an arm leaves the arena when it is evicted).
   */
  updateLayout(servingOf: (id: string) => { mu: Float64Array; cov: Float64Array }): void {
    if (!this.layout.update()) return;
    for (const [id, slot] of this.slots) {
      const { mu, cov } = servingOf(id);
      this.writeAt(slot, mu, cov);
    }
  }

  /** Drops an arm (evicted): its slot is reused. */
  remove(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.slots.delete(id);
    this.free.push(slot);
    const h = this.items.find(id);
    if (this.era === this.items.era && h >= 0 && h < this.slotOf.length) this.slotOf[h] = -1;
  }

  /** slotOf[handle of id] = slot, assigning the handle (the table rebuilt first when the handles started over). */
  private index(id: string, slot: number): void {
    const h = this.items.handle(id);
    this.syncEra();
    this.grow(h + 1);
    this.slotOf[h] = slot;
  }

  /**
   * When the item handles started over since slotOf was written: slotOf again from the arena's own ids, each given
   * a handle now, so a later request's resolve() finds the handle its arm is indexed by.
   */
  private syncEra(): void {
    if (this.era === this.items.era) return;
    this.slotOf.fill(-1);
    this.era = this.items.era;
    for (const [id, slot] of this.slots) {
      const h = this.items.handle(id);
      this.grow(h + 1);
      this.slotOf[h] = slot;
    }
  }

  private grow(size: number): void {
    if (size <= this.slotOf.length) return;
    const next = new Int32Array(Math.max(size, 2 * this.slotOf.length, 1024)).fill(-1);
    next.set(this.slotOf);
    this.slotOf = next;
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.next = 0;
    this.chunks.length = 0;
    this.slotOf.fill(-1);
  }

  /**
   * Every candidate's slot, in a loop of its own before any arithmetic (their lookups' cache misses overlap), and
   * one entry of each line the sums will read (`probes[0..count)`, QuadraticPlan.lines) touched, so those lines of
   * every arm are on their way together instead of missing one by one in the sums. Valid until the next resolve().
   */
  resolve(handles: Int32Array, n: number, probes: Int32Array, count: number): Int32Array {
    if (this.resolved.length < n) this.resolved = new Int32Array(2 * n);
    this.syncEra();
    const { resolved, slotOf, chunks, stride } = this;
    let touched = 0;
    for (let c = 0; c < n; c++) {
      const h = handles[c]!;
      const slot = h >= 0 && h < slotOf.length ? slotOf[h]! : -1;
      resolved[c] = slot;
      if (slot < 0) continue;
      const data = chunks[slot >> CHUNK_BITS]!;
      const base = (slot & (CHUNK - 1)) * stride;
      for (let i = 0; i < count; i++) touched += data[base + probes[i]!]!;
    }
    this.touched = touched;
    return resolved;
  }

  /** resolve() for callers without handles (ids without one have no arm here). */
  resolveIds(ids: readonly string[], n: number, probes: Int32Array, count: number): Int32Array {
    if (this.idHandles.length < n) this.idHandles = new Int32Array(2 * n);
    this.syncEra();
    for (let c = 0; c < n; c++) this.idHandles[c] = this.items.find(ids[c]!);
    return this.resolve(this.idHandles, n, probes, count);
  }

  /** The array holding the slot's arm, from baseOf(slot). */
  dataOf(slot: number): Float32Array {
    return this.chunks[slot >> CHUNK_BITS]!;
  }

  baseOf(slot: number): number {
    return (slot & (CHUNK - 1)) * this.stride;
  }
}
