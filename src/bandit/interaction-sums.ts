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

/** Open-addressing table shared hash → (P1, P2), plus the block's own (non-interaction) sums. */
export class BlockSums {
  private generation = 0;
  private keys = new Int32Array(32);
  private tags = new Int32Array(32);
  p1 = new Float64Array(32);
  p2 = new Float64Array(32);
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
    const mask = this.keys.length - 1;
    let i = (Math.imul(key, 0x9e3779b1) >>> 12) & mask;
    const { keys, tags, generation } = this;
    while (tags[i] === generation) {
      if (keys[i] === key) return i;
      i = (i + 1) & mask;
    }
    return -i - 1;
  }

  /** Stores (p1, p2) for `key` at the free slot find() returned. */
  insert(slot: number, key: number, p1: number, p2: number): void {
    if (2 * (this.count + 1) > this.keys.length) {
      this.grow();
      slot = this.find(key);
    }
    const i = -slot - 1;
    this.keys[i] = key;
    this.tags[i] = this.generation;
    this.p1[i] = p1;
    this.p2[i] = p2;
    this.count++;
  }

  private grow(): void {
    const { keys, tags, p1, p2, generation } = this;
    const size = keys.length * 2;
    this.keys = new Int32Array(size);
    this.tags = new Int32Array(size);
    this.p1 = new Float64Array(size);
    this.p2 = new Float64Array(size);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) {
      if (tags[i] === generation) this.insert(this.find(keys[i]!), keys[i]!, p1[i]!, p2[i]!);
    }
  }
}
