/**
 * The disjoint model's serving posteriors (μ and packed Σ of every synced arm) side by side in a few large arrays,
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
 */
const CHUNK = 64;
const CHUNK_BITS = 6;

export class ServingArena {
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];
  private next = 0;
  private readonly muChunks: Float64Array[] = [];
  private readonly covChunks: Float64Array[] = [];
  /** resolve()'s per-candidate slots (−1: no serving copy, read as the prior), reused across requests. */
  private resolved = new Int32Array(0);
  /** resolve()'s sum of the entries it touched, kept so the reads are not optimized away. */
  touched = 0;

  constructor(
    /** Doubles of μ per arm. */
    readonly dims: number,
    /** Doubles of the packed Σ per arm. */
    readonly packed: number,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  /** Stores the arm's serving μ and Σ (a copy). */
  write(id: string, mu: Float64Array, cov: Float64Array): void {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.next++;
      this.slots.set(id, slot);
      if (slot >> CHUNK_BITS >= this.covChunks.length) {
        this.muChunks.push(new Float64Array(CHUNK * this.dims));
        this.covChunks.push(new Float64Array(CHUNK * this.packed));
      }
    }
    this.muOf(slot).set(mu, this.muBase(slot));
    this.covOf(slot).set(cov, this.covBase(slot));
  }

  /** Drops an arm (evicted): its slot is reused. */
  remove(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.slots.delete(id);
    this.free.push(slot);
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.next = 0;
    this.muChunks.length = 0;
    this.covChunks.length = 0;
  }

  /**
   * Every candidate's slot, in a loop of its own before any arithmetic (their lookups' cache misses overlap), and
   * the Σ entry at `first` of each touched so its line is on its way too. Valid until the next resolve().
   */
  resolve(ids: readonly string[], n: number, first: number): Int32Array {
    if (this.resolved.length < n) this.resolved = new Int32Array(2 * n);
    const { resolved, slots, covChunks, packed } = this;
    let touched = 0;
    for (let c = 0; c < n; c++) {
      const slot = slots.get(ids[c]!) ?? -1;
      resolved[c] = slot;
      if (slot >= 0 && first >= 0) touched += covChunks[slot >> CHUNK_BITS]![(slot & (CHUNK - 1)) * packed + first]!;
    }
    this.touched = touched;
    return resolved;
  }

  /** The array holding the slot's μ, from muBase(slot). */
  muOf(slot: number): Float64Array {
    return this.muChunks[slot >> CHUNK_BITS]!;
  }

  muBase(slot: number): number {
    return (slot & (CHUNK - 1)) * this.dims;
  }

  /** The array holding the slot's packed Σ, from covBase(slot). */
  covOf(slot: number): Float64Array {
    return this.covChunks[slot >> CHUNK_BITS]!;
  }

  covBase(slot: number): number {
    return (slot & (CHUNK - 1)) * this.packed;
  }
}
