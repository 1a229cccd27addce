/**
 * Per features block, the sums a diagonal model's prediction needs from the block's shared×action
 * interaction entries, one pair per shared feature hash s:
 *   P1(s) = Σ_j w[h(s, a_j)]·v_j,   P2(s) = Σ_j w2[h(s, a_j)]·v_j²
 * (a_j, v_j the block's action features). With a shared value x_s the interactions add x_s·P1(s) to the
 * candidate's mean and x_s²·P2(s) to its variance (VW's -q entries have value x_s·v_j), so a candidate costs
 * one lookup per shared feature instead of |block| random reads of two 2^18-slot weight arrays.
 *
 * A numeric context feature hashes by its name alone, so its sums are reused whatever its value: with
 * fresh contexts per request (a new basket value, a new hour) the sums still repeat. They are valid for
 * one set of weights: the owner calls `invalidate()` whenever the weights it passes may have changed (the
 * serving copy's sync). Entries are tagged with the generation they were computed in, so invalidating
 * is O(1). Which sums come from the cache never changes a number: a miss computes exactly what a hit reads.
 */
export class InteractionSums {
  private generation = 1;
  private readonly blocks = new Map<number, BlockSums>();

  constructor(
    /** Blocks kept; past it the cache starts over (a catalog is a few thousand items). */
    readonly maxBlocks = 4096,
  ) {}

  invalidate(): void {
    this.generation++;
  }

  /** The sums table of block `uid` for the current weights. */
  table(uid: number): BlockSums {
    let t = this.blocks.get(uid);
    if (!t) {
      if (this.blocks.size >= this.maxBlocks) this.blocks.clear();
      t = new BlockSums();
      this.blocks.set(uid, t);
    }
    t.use(this.generation);
    return t;
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
