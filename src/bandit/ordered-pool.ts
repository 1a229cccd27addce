/**
 * A Thompson pool (sample-pool.ts's definition) whose scores are computed on demand. Sample m scores candidate
 * c as s_m(c) = fround(μ_c + σ_c · z_c[(o_c + m) mod M]) (noise-bank.ts), and every slot's distribution is
 *   p(c | placed) = (1 − ε) · #{m : c = argmax_{u ∉ placed} s_m(u)} / M + ε / |unplaced|,
 * ties to the lower index, the same numbers PoolEntry gives from the whole M × n score matrix.
 *
 * Only argmaxes are needed, so no matrix is built: every score of c is at most hi_c = fround(μ_c + σ_c ·
 * max z_c) (+, × by σ ≥ 0 and fround are monotone under round-to-nearest), and a sample's argmax is found by
 * scanning candidates by decreasing hi_c until hi_c falls strictly below the best score so far: nothing left
 * can beat or tie it. With a posterior that separates candidates at all, a scan reads a fraction of them
 * (rank bench: ~21 of 100 per sample instead of 100, and no top-T lists for later slots). Each sample's
 * best unplaced candidate is kept from one slot to the next while the placed set only grows (as in rank()),
 * so a later slot rescans only the samples whose best was just placed.
 * Non-finite means, sds or bounds turn the bound off: candidates are then scanned in index order, as before.
 * Rows may come unfilled (`LazyRows`, noise-bank.ts): only their largest value is known, and a row is filled the
 * first time a scan reads it.
 */

/** Rows given with only their largest value known: `fill(c)` writes candidate c's row (unfilled[c] = 1 until then). */
export interface LazyRows {
  unfilled: Uint8Array;
  fill(c: number): void;
}

/** Whether the low 32 bits of a float64 come first in memory (the sort key packs an index there). */
const LOW_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
/** A float32 value held in a float64 has its 29 lowest mantissa bits zero: room for a candidate index. */
const INDEX_BITS = 29;
const INDEX_MASK = 2 ** INDEX_BITS - 1;

export class OrderedPool {
  n = 0;
  epoch = 0;
  /** Per candidate: its noise row, offset into it, predictive mean and sd, and its scores' upper bound. */
  private rows: Float32Array[] = [];
  private offsets: Int32Array = new Int32Array(0);
  private mean: Float64Array = new Float64Array(0);
  private sd: Float64Array = new Float64Array(0);
  private hi = new Float64Array(0);
  /** Candidates by decreasing hi (index order when the bound is off). */
  private order = new Int32Array(0);
  private keys = new Float64Array(0);
  private keyWords = new Uint32Array(0);
  private bounded = false;
  /** Each sample's argmax over all candidates (slot 0). */
  private readonly winners: Int32Array;
  /** Each sample's best unplaced candidate for the placed set `seen`. */
  private readonly best: Int32Array;
  /** Each sample's best score so far while the winners are found. */
  private readonly topScores: Float64Array;
  /** rescan()'s samples, and their best candidate and score so far. */
  private readonly rescanSamples: Int32Array;
  private readonly rescanBest: Int32Array;
  private readonly rescanScores: Float64Array;
  private seen = new Uint8Array(0);
  /** The request's unfilled rows (none when undefined). */
  private lazy: LazyRows | undefined;

  constructor(readonly size: number) {
    this.winners = new Int32Array(size);
    this.best = new Int32Array(size);
    this.topScores = new Float64Array(size);
    this.rescanSamples = new Int32Array(size);
    this.rescanBest = new Int32Array(size);
    this.rescanScores = new Float64Array(size);
  }

  /**
   * Loads one request: candidate c's row `rows[c]` (M float32 normals, largest `rowMax[c]`), its offset, mean
   * and sd. The arrays are read until the next load (the pool is valid until then).
   */
  load(
    n: number,
    epoch: number,
    rows: Float32Array[],
    rowMax: Float64Array,
    offsets: Int32Array,
    mean: Float64Array,
    sd: Float64Array,
    lazy?: LazyRows,
  ): this {
    this.n = n;
    this.lazy = lazy;
    this.epoch = epoch;
    this.rows = rows;
    this.offsets = offsets;
    this.mean = mean;
    this.sd = sd;
    if (this.hi.length < n) this.grow(n);
    let bounded = n <= INDEX_MASK + 1;
    for (let c = 0; c < n; c++) {
      const s = sd[c]!;
      const h = Math.fround(mean[c]! + s * rowMax[c]!);
      this.hi[c] = h;
      if (!Number.isFinite(h) || !(s >= 0)) bounded = false;
    }
    this.bounded = bounded;
    this.sortByBound(n);
    this.findWinners(n);
    this.best.set(this.winners);
    this.seen.fill(0, 0, n);
    return this;
  }

  /** Sample m's score of candidate c. */
  score(m: number, c: number): number {
    this.ensureRow(c);
    const z = this.rows[c]!;
    let k = this.offsets[c]! + m;
    if (k >= this.size) k -= this.size;
    return Math.fround(this.mean[c]! + this.sd[c]! * z[k]!);
  }

  /** The exact slot distribution given a mask of placed candidates (1 = placed), into `out` (zeroed, n) when given. */
  distribution(placed: Uint8Array, floor: number, out?: Float64Array): Float64Array {
    const { n, size, best } = this;
    const p = out ?? new Float64Array(n);
    const seen = this.seen;
    // One pass: the unplaced count, and whether `placed` holds every candidate the kept bests are for (they
    // stay valid then: the placed set only grew).
    let unplaced = 0;
    let grows = true;
    for (let c = 0; c < n; c++) {
      if (placed[c] !== 0) continue;
      unplaced++;
      if (seen[c] !== 0) grows = false;
    }
    if (unplaced === 0) return p;
    if (!grows) best.set(this.winners);
    const rescan = this.rescanSamples;
    let r = 0;
    for (let m = 0; m < size; m++) if (placed[best[m]!] !== 0) rescan[r++] = m;
    if (r > 0) this.rescan(r, placed);
    for (let m = 0; m < size; m++) {
      const c = best[m]!;
      p[c] = p[c]! + 1;
    }
    for (let c = 0; c < n; c++) seen[c] = placed[c]!;
    const share = (1 - floor) / size;
    const base = floor / unplaced;
    for (let c = 0; c < n; c++) p[c] = placed[c] === 0 ? p[c]! * share + base : 0;
    return p;
  }

  /**
   * Every sample's argmax (slot 0), candidate by candidate in bound order: one candidate's row, mean and sd
   * stay in registers while its row is read in two runs (from its offset, then from 0), and the walk stops
   * at the first candidate whose bound is below every sample's best so far (checked every few candidates;
   * a later stop only costs time).
   */
  private findWinners(n: number): void {
    const { order, hi, winners, size, rows, offsets, mean, sd } = this;
    const top = this.topScores;
    for (let k = 0; k < n; k++) {
      const c = order[k]!;
      if (this.bounded && k > 0 && (k & 3) === 0 && hi[c]! < minOf(top, size)) break;
      this.ensureRow(c);
      const z = rows[c]!;
      const o = offsets[c]!;
      const mu = mean[c]!;
      const s = sd[c]!;
      let m = 0;
      for (let j = o; j < size; j++, m++) {
        const v = Math.fround(mu + s * z[j]!);
        if (k === 0 || v > top[m]! || (v === top[m]! && c < winners[m]!)) {
          top[m] = v;
          winners[m] = c;
        }
      }
      for (let j = 0; m < size; j++, m++) {
        const v = Math.fround(mu + s * z[j]!);
        if (k === 0 || v > top[m]! || (v === top[m]! && c < winners[m]!)) {
          top[m] = v;
          winners[m] = c;
        }
      }
    }
  }

  /**
   * best[m] = sample m's best unplaced candidate (ties to the lower index) for the r samples rescanSamples[0..r),
   * scanning candidates by decreasing bound once for all of them: a sample leaves the scan at the first candidate
   * whose bound is below its best score so far (nothing after it can beat or tie it), so each sample reads exactly
   * the candidates a scan of its own would, while a candidate's row, mean and sd are read once for all.
   */
  private rescan(r: number, placed: Uint8Array): void {
    const { n, order, hi, bounded, rows, offsets, mean, sd, size, best } = this;
    const samples = this.rescanSamples;
    const bestOf = this.rescanBest;
    const scoreOf = this.rescanScores;
    for (let i = 0; i < r; i++) {
      bestOf[i] = -1;
      scoreOf[i] = Number.NEGATIVE_INFINITY;
    }
    let active = r;
    for (let k = 0; k < n && active > 0; k++) {
      const c = order[k]!;
      // A placed candidate is read by no sample; one that would stop a sample here stops it at the next one too.
      if (placed[c] !== 0) continue;
      const h = hi[c]!;
      this.ensureRow(c);
      const z = rows[c]!;
      const o = offsets[c]!;
      const mu = mean[c]!;
      const s = sd[c]!;
      for (let i = 0; i < active; ) {
        if (bounded && bestOf[i]! >= 0 && h < scoreOf[i]!) {
          // Done: swapped past the active ones (its result stays in the arrays).
          active--;
          swap(samples, i, active);
          swap(bestOf, i, active);
          swap(scoreOf, i, active);
          continue;
        }
        let j = o + samples[i]!;
        if (j >= size) j -= size;
        const v = Math.fround(mu + s * z[j]!);
        if (bestOf[i]! < 0 || v > scoreOf[i]! || (v === scoreOf[i]! && c < bestOf[i]!)) {
          bestOf[i] = c;
          scoreOf[i] = v;
        }
        i++;
      }
    }
    for (let i = 0; i < r; i++) best[samples[i]!] = bestOf[i]!;
  }

  /** Candidate c's row filled when it came unfilled. */
  private ensureRow(c: number): void {
    const lazy = this.lazy;
    if (lazy !== undefined && lazy.unfilled[c] === 1) {
      lazy.fill(c);
      lazy.unfilled[c] = 0;
    }
  }

  /**
   * order = candidates by decreasing hi. Sorted as numbers (a typed-array sort, no comparator calls): key −hi_c
   * with c in the low mantissa bits, which a float32 value leaves zero, so keys order exactly as −hi and
   * decode to their candidate. Ties in hi come out in any order: scan() breaks score ties by index itself.
   */
  private sortByBound(n: number): void {
    const { order, keys, keyWords, hi } = this;
    if (!this.bounded) {
      for (let c = 0; c < n; c++) order[c] = c;
      return;
    }
    for (let c = 0; c < n; c++) {
      keys[c] = -hi[c]!;
      keyWords[2 * c + LOW_WORD] = (keyWords[2 * c + LOW_WORD]! | c) >>> 0;
    }
    keys.subarray(0, n).sort();
    for (let k = 0; k < n; k++) order[k] = keyWords[2 * k + LOW_WORD]! & INDEX_MASK;
  }

  private grow(n: number): void {
    const size = Math.max(n, 2 * this.hi.length);
    this.hi = new Float64Array(size);
    this.order = new Int32Array(size);
    this.keys = new Float64Array(size);
    this.keyWords = new Uint32Array(this.keys.buffer);
    this.seen = new Uint8Array(size);
  }
}

function minOf(values: Float64Array, count: number): number {
  let min = values[0]!;
  for (let i = 1; i < count; i++) if (values[i]! < min) min = values[i]!;
  return min;
}

function swap(a: Int32Array | Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
