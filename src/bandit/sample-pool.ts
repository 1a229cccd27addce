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
  /** size × t candidate indices, best first; built on the first slot after the first (slot 0 needs only winners). */
  private top: Int32Array | undefined;

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
    const { n, size, scores } = this;
    const p = new Float64Array(n);
    let unplaced = 0;
    for (let c = 0; c < n; c++) if (placed[c] === 0) unplaced++;
    if (unplaced === 0) return p;
    if (unplaced === n) {
      for (let m = 0; m < size; m++) p[this.winners[m]!] = p[this.winners[m]!]! + 1;
    } else {
      const t = this.t;
      const top = this.topLists();
      for (let m = 0; m < size; m++) {
        let winner = -1;
        for (let j = m * t, end = j + t; j < end; j++) {
          const c = top[j]!;
          if (placed[c] === 0) {
            winner = c;
            break;
          }
        }
        if (winner < 0) winner = argmaxUnplaced(scores, m * n, n, placed);
        p[winner] = p[winner]! + 1;
      }
    }
    const share = (1 - floor) / size;
    const base = floor / unplaced;
    for (let c = 0; c < n; c++) p[c] = placed[c] === 0 ? p[c]! * share + base : 0;
    return p;
  }

  private topLists(): Int32Array {
    if (!this.top) {
      const { size, n, t } = this;
      this.top = new Int32Array(size * t);
      for (let m = 0; m < size; m++) topIndices(this.scores, m * n, n, t, this.top, m * t);
    }
    return this.top;
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
   * `size` consecutive rows of n sample scores.
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
    const entry = this.build(n, epoch, rngFor("ts-pool", `${seed}:${epoch}:${key}`), sample);
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.options.cacheSize) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
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
  ): PoolEntry {
    this.builds++;
    const size = this.options.size;
    const t = Math.min(n, this.options.topK);
    const scores = new Float32Array(size * n);
    sample(rng, scores, size);
    const winners = new Int32Array(size);
    const none = new Uint8Array(n);
    for (let m = 0; m < size; m++) winners[m] = argmaxUnplaced(scores, m * n, n, none);
    return new PoolEntry(n, size, epoch, t, scores, winners);
  }
}

/** Indices of the t largest of scores[off..off+n), best first; ties to the lower index. */
function topIndices(scores: Float32Array, off: number, n: number, t: number, out: Int32Array, o: number): void {
  let len = 0;
  for (let c = 0; c < n; c++) {
    const s = scores[off + c]!;
    if (len === t && s <= scores[off + out[o + t - 1]!]!) continue;
    let j = len < t ? len++ : t - 1;
    while (j > 0 && scores[off + out[o + j - 1]!]! < s) {
      out[o + j] = out[o + j - 1]!;
      j--;
    }
    out[o + j] = c;
  }
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
