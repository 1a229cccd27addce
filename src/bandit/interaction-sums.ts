/**
 * Per features block, the sums a diagonal model's prediction needs from the block's shared×action
 * interaction entries, one pair per shared feature hash s:
 *   P1(s) = Σ_j w[h(s, a_j)]·v_j,   P2(s) = Σ_j w2[h(s, a_j)]·v_j²
 * (a_j, v_j the block's action features). With a shared value x_s the interactions add x_s·P1(s) to the
 * candidate's mean and x_s²·P2(s) to its variance (VW's -q entries have value x_s·v_j), so a candidate costs
 * one read per shared feature instead of |block| random reads of two 2^18-slot weight arrays.
 *
 * A numeric context feature hashes by its name alone, so its sums are reused whatever its value: with
 * fresh contexts per request (a new basket value, a new hour) the sums still repeat. They are valid for
 * one set of weights: the owner calls `invalidate()` whenever the weights it passes may have changed (the
 * serving copy's sync). Entries are tagged with the generation they were computed in, so invalidating
 * is O(1). Which sums come from the cache never changes a number: a miss computes exactly what a hit reads.
 *
 * Layout: one column per shared hash, indexed by a dense per-block index (`SumsSlot.sumsIndex`), each entry
 * (tag, P1, P2) in the first 3 of SUMS_STRIDE adjacent doubles. A request looks its few shared hashes' columns up once (`column`), and
 * each candidate then reads one entry of each: no hash lookup or probe per candidate and block, and the ~100
 * candidates of a request read a few small dense arrays instead of ~100 scattered tables.
 */
/**
 * Doubles per entry: (tag, P1, P2) and one unused, so an entry never straddles two cache lines (at a stride of 3, a
 * quarter of them did: a candidate's ~5 reads of random entries brought ~6 lines). Issue 12, stop 26.
 */
export const SUMS_STRIDE = 4;

export class InteractionSums {
  private generation = 1;
  /** Bumped when the columns start over: block indices from an earlier era are stale. */
  private era = 0;
  private nextIndex = 0;
  private readonly columns = new Map<number, SumsColumn>();
  /** Each block's own (non-interaction) sums, Σ_j w[a_j]·v_j and Σ_j w2[a_j]·v_j². */
  own = new SumsColumn();
  /** Entries allocated over all columns (the memory bound is checked at `begin`). */
  private entries = 0;

  constructor(
    /** Entries (32 bytes each) kept over all columns; past it the cache starts over at the next request. */
    readonly maxEntries = 1 << 21,
  ) {}

  /**
   * The previous generation, when the weight slots that changed since it are known (−1 when not): an entry of
   * that generation whose sums read none of those slots holds what they would give now, so it is carried into
   * the current one instead of computed again. A sync changes the few hundred slots the epoch's updates touched
   * out of 2^18, so nearly every entry carries over: the first requests after an epoch change no longer
   * recompute (with two random reads of the large weight table each) every block's sums.
   */
  carried = -1;
  /** Bitset over weight slots: those that changed from generation `carried` to the current one. */
  private changed = new Uint32Array(0);
  /** The slots set in `changed` (to clear them at the next invalidate). */
  private changedSlots: readonly number[] = [];

  /**
   * The weights may have changed: entries of earlier generations are stale. With `changedSlots` (every weight
   * slot, < `dims`, that may have changed since the last invalidate), entries of the last generation that read
   * none of them stay usable (`carried`, `changedSlot`); without, none does.
   */
  invalidate(changedSlots?: readonly number[], dims = 0): void {
    this.generation++;
    const changed = this.changed;
    for (const i of this.changedSlots) changed[i >>> 5] = 0;
    this.changedSlots = [];
    if (changedSlots === undefined) {
      this.carried = -1;
      return;
    }
    if (this.changed.length < (dims + 31) >>> 5) this.changed = new Uint32Array((dims + 31) >>> 5);
    const bits = this.changed;
    for (const i of changedSlots) bits[i >>> 5] = bits[i >>> 5]! | (1 << (i & 31));
    this.changedSlots = changedSlots;
    this.carried = this.generation - 1;
  }

  /** Whether weight slot `k` changed from generation `carried` to the current one. */
  changedSlot(k: number): boolean {
    return ((this.changed[k >>> 5] ?? 0) & (1 << (k & 31))) !== 0;
  }

  /** The current weights' generation: an entry whose tag equals it is valid. */
  get tag(): number {
    return this.generation;
  }

  /**
   * Called once per request before any `column`/`indexOf`: starts the cache over when it holds more than
   * `maxEntries` (never within a request, whose columns and block indices must stay consistent).
   */
  begin(): void {
    if (this.entries <= this.maxEntries) return;
    this.columns.clear();
    this.own = new SumsColumn();
    this.entries = 0;
    this.nextIndex = 0;
    this.era++;
  }

  /** The dense index of a block (assigned on first use in the current era). */
  indexOf(block: SumsSlot): number {
    if (block.sumsEra !== this.era || block.sumsOwner !== this) {
      block.sumsOwner = this;
      block.sumsEra = this.era;
      block.sumsIndex = this.nextIndex++;
    }
    return block.sumsIndex;
  }

  /** The column of shared hash `key`. */
  column(key: number): SumsColumn {
    let c = this.columns.get(key);
    if (!c) {
      c = new SumsColumn();
      this.columns.set(key, c);
      this.entries += c.data.length / SUMS_STRIDE;
    }
    return c;
  }

  /** Column `c`'s data with room for block index `index` (grown, and counted against the bound, when needed). */
  dataFor(c: SumsColumn, index: number): Float64Array {
    if (SUMS_STRIDE * index < c.data.length) return c.data;
    const before = c.data.length / SUMS_STRIDE;
    c.grow(index);
    this.entries += c.data.length / SUMS_STRIDE - before;
    return c.data;
  }
}

/** The fields InteractionSums keeps on a block for its dense index. */
export interface SumsSlot {
  sumsOwner: InteractionSums | undefined;
  sumsEra: number;
  sumsIndex: number;
}

/** Per block index: (generation tag, P1, P2); tag 0 is never a generation, so a new entry is invalid. */
export class SumsColumn {
  data = new Float64Array(SUMS_STRIDE * 64);

  grow(index: number): void {
    let size = this.data.length / SUMS_STRIDE;
    while (size <= index) size *= 2;
    const next = new Float64Array(SUMS_STRIDE * size);
    next.set(this.data);
    this.data = next;
  }
}

/**
 * Open-addressing table shared hash → (P1, P2), plus the block's own (non-interaction) sums. A slot's key,
 * generation tag and two sums sit side by side in one Float64Array (4 numbers, 32 bytes): a rank looks up a
 * few keys in each of ~100 blocks' tables, mostly out of cache, and a probe then reads one cache line instead
 * of one in each of four arrays. Keys (int32) and tags (counters) are exact in a double.
 */
export class BlockSums {
  private generation = 0;
  private data = new Float64Array(4 * 32);
  private count = 0;
  /** Σ_j w[a_j]·v_j and Σ_j w2[a_j]·v_j² (valid when ownValid). */
  own1 = 0;
  own2 = 0;
  ownValid = false;

  use(generation: number): void {
    if (generation === this.generation) return;
    this.generation = generation;
    this.count = 0;
    this.ownValid = false;
  }

  /** The slot of `key`: ≥ 0 when present, else −(free slot) − 1 to pass to insert(). */
  find(key: number): number {
    const { data, generation } = this;
    const mask = (data.length >> 2) - 1;
    let i = (Math.imul(key, 0x9e3779b1) >>> 12) & mask;
    while (data[4 * i + 1] === generation) {
      if (data[4 * i] === key) return i;
      i = (i + 1) & mask;
    }
    return -i - 1;
  }

  /** P1 of a slot find() returned (≥ 0). */
  p1(slot: number): number {
    return this.data[4 * slot + 2]!;
  }

  /** P2 of a slot find() returned (≥ 0). */
  p2(slot: number): number {
    return this.data[4 * slot + 3]!;
  }

  /** Stores (p1, p2) for `key` at the free slot find() returned. */
  insert(slot: number, key: number, p1: number, p2: number): void {
    if (2 * (this.count + 1) > this.data.length >> 2) {
      this.grow();
      slot = this.find(key);
    }
    const at = 4 * (-slot - 1);
    const data = this.data;
    data[at] = key;
    data[at + 1] = this.generation;
    data[at + 2] = p1;
    data[at + 3] = p2;
    this.count++;
  }

  private grow(): void {
    const { data: old, generation } = this;
    this.data = new Float64Array(2 * old.length);
    this.count = 0;
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 1] === generation) this.insert(this.find(old[at]!), old[at]!, old[at + 2]!, old[at + 3]!);
    }
  }
}
