import { murmur3 } from "../core/hash.js";
import { Xoshiro128 } from "../core/rng.js";
import { fastNormals } from "./fast-normal.js";
import { PoolEntry } from "./sample-pool.js";

/**
 * The standard-normal noise of Thompson pools, drawn per item rather than per request. A pool's sample m
 * scores candidate c as s_m(c) = μ_c + σ_c · z_item(c)[(m + o_c) mod M]: μ and σ are the serving
 * posterior's predictive for this request (context, candidate features and scores all enter there), and
 * z_item is M standard normals seeded by (policy, epoch, item id), drawn once per epoch in place. So a
 * request with a context never seen before costs M·n multiply-adds instead of M·n fresh normals, and the
 * distribution is still a pure function of (serving posterior, epoch, request): it replays exactly.
 *
 * The offset o_c = hash(request's context, item) rotates each item's row per context, so two contexts
 * pair different samples of different items (their joint draws differ) while each item keeps its own M
 * draws for the epoch. The propensity is exact whatever the noise: the served action is drawn from the
 * share of pool samples it wins, plus the floor (sample-pool.ts). What sharing costs is independence
 * across requests within one epoch (an item whose M draws came out high is favoured until the refresh),
 * the same as a context repeated within an epoch under per-context pools.
 */
export class NoiseBank {
  /** Per item: its row, the epoch it was drawn for, and the item's hash (kept across epochs). */
  private readonly rows = new Map<string, NoiseRow>();
  private seedHash = 0;
  private epoch = -1;
  private seed = "";
  private normals: Float64Array;
  private scores = new Float32Array(0);
  private winners = new Int32Array(0);
  private readonly rowRefs: Float32Array[] = [];
  private offsets = new Int32Array(0);
  /** Each sample's best score so far while a pool is built. */
  private best = new Float64Array(0);
  /** Item rows drawn since creation (for describe() and the bench). */
  rowsDrawn = 0;

  constructor(
    readonly size: number,
    readonly topK: number,
    /** Items kept before the bank starts over (rows redraw identically: seeded). */
    readonly maxRows = 200_000,
  ) {
    this.normals = new Float64Array(size);
  }

  /**
   * The pool for one request. Valid until the next call (its buffers are reused): callers use it within
   * one rank() or distribution() call, as with SamplePool.
   */
  entry(
    ids: readonly string[],
    contextHash: number,
    epoch: number,
    seed: string,
    mean: Float64Array,
    sd: Float64Array,
  ): PoolEntry {
    if (seed !== this.seed || this.rows.size >= this.maxRows) {
      this.rows.clear();
      this.seed = seed;
      this.seedHash = murmur3(seed, 0x7e57);
    }
    this.epoch = epoch;
    const n = ids.length;
    const size = this.size;
    if (this.scores.length < size * n) this.scores = new Float32Array(size * n);
    if (this.winners.length < size) this.winners = new Int32Array(size);
    const scores = this.scores.length === size * n ? this.scores : this.scores.subarray(0, size * n);
    const winners = this.winners;
    const rows = this.rowRefs;
    if (this.offsets.length < n) this.offsets = new Int32Array(2 * n);
    const offsets = this.offsets;
    rows.length = n;
    for (let c = 0; c < n; c++) {
      const row = this.row(ids[c]!);
      rows[c] = row.z;
      offsets[c] = ((row.hash ^ contextHash) >>> 0) % size;
    }
    // Candidate by candidate: its row, offset, mean and sd stay in registers and its row is read in two
    // runs (from its offset to the end, then from 0) instead of a wrap test per sample. Each sample's winner
    // is kept as its scores are written (on the float32 values stored, as the later slots read them; ties
    // to the lower index: candidate 0 always enters, later ones only when strictly better).
    if (this.best.length < size) this.best = new Float64Array(size);
    const best = this.best;
    for (let c = 0; c < n; c++) {
      const z = rows[c]!;
      const o = offsets[c]!;
      const mu = mean[c]!;
      const s = sd[c]!;
      let m = 0;
      for (let k = o; k < size; k++, m++) this.put(z, k, m, c, n, mu, s, scores, winners, best);
      for (let k = 0; m < size; k++, m++) this.put(z, k, m, c, n, mu, s, scores, winners, best);
    }
    return new PoolEntry(n, size, epoch, Math.min(n, this.topK), scores, winners);
  }

  /** Sample m's score of candidate c from z[k]; c becomes m's winner when first or strictly better. */
  private put(
    z: Float32Array,
    k: number,
    m: number,
    c: number,
    n: number,
    mu: number,
    sd: number,
    scores: Float32Array,
    winners: Int32Array,
    best: Float64Array,
  ): void {
    const v = Math.fround(mu + sd * z[k]!);
    scores[m * n + c] = v;
    if (c === 0 || v > best[m]!) {
      best[m] = v;
      winners[m] = c;
    }
  }

  /** The item's row for the current epoch: drawn in place when the epoch moved (no allocation). */
  private row(id: string): NoiseRow {
    let row = this.rows.get(id);
    if (!row) {
      row = { z: new Float32Array(this.size), epoch: -1, hash: murmur3(id, 0x5eed) };
      this.rows.set(id, row);
    }
    if (row.epoch !== this.epoch) {
      // Seeded by (policy, epoch, item) without hashing a string per epoch.
      const seed = Math.imul(this.seedHash ^ row.hash, 0x9e3779b1) ^ Math.imul(this.epoch + 1, 0x85ebca77);
      fastNormals(new Xoshiro128(seed), this.normals, this.size);
      row.z.set(this.normals.subarray(0, this.size));
      row.epoch = this.epoch;
      this.rowsDrawn++;
    }
    return row;
  }

  /** Items with a row (drawn for this or an earlier epoch). */
  get cached(): number {
    return this.rows.size;
  }

  clear(): void {
    this.rows.clear();
    this.epoch = -1;
  }
}

interface NoiseRow {
  z: Float32Array;
  epoch: number;
  hash: number;
}
