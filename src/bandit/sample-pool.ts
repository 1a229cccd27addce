import { type Rng, rngFor } from "../core/rng.js";

/**
 * Exact propensities for Thompson sampling. Plain TS draws one posterior sample per request and serves
 * its argmax; the probability of that choice is an intractable integral. Instead, per context key we
 * draw a pool of M posterior samples once (seeded by policy, refresh epoch and key, so it is a pure
 * function of the serving posterior) and define the policy's distribution for a slot as the exact share
 * of pool samples in which each not-yet-placed candidate wins, mixed with a floor ε spread uniformly over
 * the unplaced candidates so every candidate keeps support:
 *   p(c | placed) = (1 − ε) · #{m : c = argmax_{u ∉ placed} s_m(u)} / M + ε / |unplaced|.
 * The served action is then drawn from exactly p, so the logged propensity is exact. As M grows this
 * approaches the TS probability of the action (Agrawal & Goyal 2013; Chapelle & Li 2011).
 *
 * Each entry keeps the float32 sample scores and each sample's winner (slot 0); on the first later slot
 * it builds every sample's top-T list (T = slots usually filled) so a slot costs O(M·k), falling back
 * to a scan of the scores when all of a sample's top T are placed.
 */
export interface PoolOptions {
  /** Samples per context (M). */
  size: number;
  /** Top candidates kept per sample. */
  topK: number;
  /** Context entries kept (least recently used evicted). */
  cacheSize: number;
}

export class PoolEntry {
  /**
   * size × t candidate indices, best first. Sample m's list is built (and `built[m]` set) the first time
   * a slot is asked with m's slot-0 winner placed: until then its winner is still the winner, so samples
   * whose favourite is never placed (most of them when the posterior is spread) never sort.
   */
  private top: Int32Array | undefined;
  private built: Uint8Array | undefined;

  constructor(
    readonly n: number,
    readonly size: number,
    readonly epoch: number,
    readonly t: number,
    /** size × n sample scores. */
    readonly scores: Float32Array,
    /** Each sample's argmax over all candidates (slot 0). */
    readonly winners: Int32Array,
  ) {}

  /** The exact slot distribution given a mask of placed candidates (1 = placed). */
  distribution(placed: Uint8Array, floor: number): Float64Array {
    const { n, size, winners } = this;
    const p = new Float64Array(n);
    let unplaced = 0;
    for (let c = 0; c < n; c++) if (placed[c] === 0) unplaced++;
    if (unplaced === 0) return p;
    for (let m = 0; m < size; m++) {
      let winner = winners[m]!;
      if (placed[winner] !== 0) winner = this.nextBest(m, placed);
      p[winner] = p[winner]! + 1;
    }
    const share = (1 - floor) / size;
    const base = floor / unplaced;
    for (let c = 0; c < n; c++) p[c] = placed[c] === 0 ? p[c]! * share + base : 0;
    return p;
  }

  /** Sample m's best unplaced candidate: the first unplaced of its top list, else a scan of its scores. */
  private nextBest(m: number, placed: Uint8Array): number {
    const { n, size, t } = this;
    if (!this.top || !this.built) {
      this.top = new Int32Array(size * t);
      this.built = new Uint8Array(size);
    }
    const top = this.top;
    if (this.built[m] === 0) {
      topIndices(this.scores, m * n, n, t, top, m * t);
      this.built[m] = 1;
    }
    for (let j = m * t, end = j + t; j < end; j++) {
      const c = top[j]!;
      if (placed[c] === 0) return c;
    }
    return argmaxUnplaced(this.scores, m * n, n, placed);
  }
}

export class SamplePool {
  readonly options: PoolOptions;
  private readonly entries = new Map<string, PoolEntry>();
  /** Pools built since creation (cache misses), for describe() and the bench. */
  builds = 0;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /**
   * The entry for `key` at `epoch`, building it when absent or stale. `sample(rng, scores)` writes
   * `size` consecutive rows of n sample scores. An entry is valid until the next get(): an evicted
   * entry's buffers are reused (callers use an entry within one rank/distribution call).
   */
  get(
    key: string,
    epoch: number,
    seed: string,
    n: number,
    sample: (rng: Rng, scores: Float32Array, size: number) => void,
  ): PoolEntry {
    const hit = this.entries.get(key);
    if (hit && hit.epoch === epoch && hit.n === n) {
      // Re-insert to mark as most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    let spare: PoolEntry | undefined;
    if (hit) this.entries.delete(key);
    else if (this.entries.size >= this.options.cacheSize) {
      // Evict the least recently used context; a new context per request is the common case, so its
      // buffers are recycled for this build (no allocation, no long-lived garbage for the GC).
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        spare = this.entries.get(oldest);
        this.entries.delete(oldest);
      }
    }
    const entry = this.build(n, epoch, rngFor("ts-pool", `${seed}:${epoch}:${key}`), sample, spare);
    this.entries.set(key, entry);
    return entry;
  }

  get cached(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private build(
    n: number,
    epoch: number,
    rng: Rng,
    sample: (rng: Rng, scores: Float32Array, size: number) => void,
    spare: PoolEntry | undefined,
  ): PoolEntry {
    this.builds++;
    const size = this.options.size;
    const t = Math.min(n, this.options.topK);
    const reuse = spare !== undefined && spare.scores.length === size * n && spare.winners.length === size;
    // sample() writes every score, so a recycled buffer needs no clearing.
    const scores = reuse ? spare.scores : new Float32Array(size * n);
    sample(rng, scores, size);
    const winners = reuse ? spare.winners : new Int32Array(size);
    for (let m = 0; m < size; m++) winners[m] = argmaxRow(scores, m * n, n);
    return new PoolEntry(n, size, epoch, t, scores, winners);
  }
}

/** Scratch: the scores of the current top list, so comparisons read one array, not two. */
let topScores = new Float64Array(16);

/** Indices of the t largest of scores[off..off+n), best first; ties to the lower index. */
function topIndices(scores: Float32Array, off: number, n: number, t: number, out: Int32Array, o: number): void {
  if (topScores.length < t) topScores = new Float64Array(2 * t);
  const ts = topScores;
  let len = 0;
  // The t-th best so far once the list is full (-∞ before, so the first t always enter).
  let worst = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < n; c++) {
    const s = scores[off + c]!;
    if (len === t && s <= worst) continue;
    let j = len < t ? len++ : t - 1;
    while (j > 0 && ts[j - 1]! < s) {
      out[o + j] = out[o + j - 1]!;
      ts[j] = ts[j - 1]!;
      j--;
    }
    out[o + j] = c;
    ts[j] = s;
    if (len === t) worst = ts[t - 1]!;
  }
}

/** argmaxUnplaced with nothing placed: the first index of the row's largest score. */
function argmaxRow(scores: Float32Array, off: number, n: number): number {
  if (n === 0) return -1;
  let best = 0;
  let bestScore = scores[off]!;
  for (let c = 1; c < n; c++) {
    const s = scores[off + c]!;
    if (s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

function argmaxUnplaced(scores: Float32Array, off: number, n: number, placed: Uint8Array): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < n; c++) {
    if (placed[c] !== 0) continue;
    const s = scores[off + c]!;
    if (best < 0 || s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}
