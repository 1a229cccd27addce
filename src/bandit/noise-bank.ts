import { murmur3 } from "../core/hash.js";
import { Xoshiro128 } from "../core/rng.js";
import { fastNormals } from "./fast-normal.js";
import { OrderedPool } from "./ordered-pool.js";

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
  private readonly pool: OrderedPool;
  private readonly rowRefs: Float32Array[] = [];
  private rowMax = new Float64Array(0);
  private offsets = new Int32Array(0);
  /** Item rows drawn since creation (for describe() and the bench). */
  rowsDrawn = 0;

  constructor(
    readonly size: number,
    /** Items kept before the bank starts over (rows redraw identically: seeded). */
    readonly maxRows = 200_000,
  ) {
    this.normals = new Float64Array(size);
    this.pool = new OrderedPool(size);
  }

  /**
   * The pool for one request (ordered-pool.ts). Valid until the next call (its buffers are reused): callers use
   * it within one rank() or distribution() call, as with SamplePool.
   */
  entry(
    ids: readonly string[],
    contextHash: number,
    epoch: number,
    seed: string,
    mean: Float64Array,
    sd: Float64Array,
  ): OrderedPool {
    if (seed !== this.seed || this.rows.size >= this.maxRows) {
      this.rows.clear();
      this.seed = seed;
      this.seedHash = murmur3(seed, 0x7e57);
    }
    this.epoch = epoch;
    const n = ids.length;
    const size = this.size;
    const rows = this.rowRefs;
    if (this.offsets.length < n) {
      this.offsets = new Int32Array(2 * n);
      this.rowMax = new Float64Array(2 * n);
    }
    const { offsets, rowMax } = this;
    rows.length = n;
    for (let c = 0; c < n; c++) {
      const row = this.row(ids[c]!);
      rows[c] = row.z;
      rowMax[c] = row.max;
      offsets[c] = ((row.hash ^ contextHash) >>> 0) % size;
    }
    return this.pool.load(n, epoch, rows, rowMax, offsets, mean, sd);
  }

  /** The item's row for the current epoch: drawn in place when the epoch moved (no allocation). */
  private row(id: string): NoiseRow {
    let row = this.rows.get(id);
    if (!row) {
      row = { z: new Float32Array(this.size), epoch: -1, hash: murmur3(id, 0x5eed), max: 0 };
      this.rows.set(id, row);
    }
    if (row.epoch !== this.epoch) {
      // Seeded by (policy, epoch, item) without hashing a string per epoch.
      const seed = Math.imul(this.seedHash ^ row.hash, 0x9e3779b1) ^ Math.imul(this.epoch + 1, 0x85ebca77);
      const { normals, size } = this;
      fastNormals(new Xoshiro128(seed), normals, size);
      // Stored as float32 and its max taken in one pass (the max is of the stored, rounded values).
      const z = row.z;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < size; i++) {
        z[i] = normals[i]!;
        const zi = z[i]!;
        if (zi > max) max = zi;
      }
      row.max = max;
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
  /** The largest of z (a float32 value): the pool's bound on this item's scores. */
  max: number;
}
