import { murmur3 } from "../core/hash.js";
import { Xoshiro128 } from "../core/rng.js";
import { normalOfUniform } from "./fast-normal.js";
import { ItemHandles } from "./item-handles.js";
import { type LazyRows, OrderedPool } from "./ordered-pool.js";

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
 *
 * A row is drawn largest first (issue 12, stop 25): the pool needs every candidate's largest draw for its
 * bound (ordered-pool.ts), but reads the whole row only of candidates its scans reach (~12 of 100 in the rank
 * bench). M iid uniforms are, in law, their maximum U = V^(1/M) (P(max <= t) = t^M), at a uniformly drawn
 * position, and the M − 1 others iid uniform on [0, U) (order statistics of iid uniforms, e.g. David &
 * Nagaraja, "Order Statistics", 2003, §2.2); each maps through the same quantile table as fastNormal, which is
 * non-decreasing, so the row's largest value is the one drawn first. So an item costs two uniforms and a
 * power per epoch, and M more uniforms only when a pool reads its row (`fill`): the same law as M draws of
 * fastNormal, from other uniforms than before this change (the draws of a given seed changed, not their law).
 */
export class NoiseBank {
  /**
   * By item handle (item-handles.ts, of era `era`): its row, the epoch it was drawn for, and the item's hash (kept
   * across epochs).
   */
  private rows: (NoiseRow | undefined)[] = [];
  private rowCount = 0;
  private era = -1;
  /** entry()'s handles when the caller has none, reused across requests. */
  private handles = new Int32Array(0);
  private seedHash = 0;
  private epoch = -1;
  private seed = "";
  private readonly uniforms: Float64Array;
  private readonly pool: OrderedPool;
  /** entry()'s per-candidate rows, their arrays, bounds, offsets and unfilled flags, reused across requests. */
  private readonly rowObjs: NoiseRow[] = [];
  private readonly rowRefs: Float32Array[] = [];
  private rowMax = new Float64Array(0);
  private offsets = new Int32Array(0);
  private readonly lazy: LazyRows = { unfilled: new Uint8Array(0), fill: (c) => this.fill(this.rowObjs[c]!) };
  /** Items given noise for an epoch (their largest draw), since creation (for describe() and the bench). */
  rowsDrawn = 0;
  /** Rows filled in whole (a pool read past the item's largest draw), since creation. */
  rowsFilled = 0;

  constructor(
    readonly size: number,
    /** Items kept before the bank starts over (rows redraw identically: seeded). */
    readonly maxRows = 200_000,
    /** The handles rows are kept by: a policy shares them with its serving arena (one lookup per candidate). */
    readonly items = new ItemHandles(),
  ) {
    this.uniforms = new Float64Array(size);
    this.pool = new OrderedPool(size);
  }

  /**
   * The pool for one request (ordered-pool.ts). Valid until the next call (its buffers are reused): callers use
   * it within one rank() or distribution() call, as with SamplePool. `handles`: the ids' handles from `items`
   * (resolved here when not given).
   */
  entry(
    ids: readonly string[],
    contextHash: number,
    epoch: number,
    seed: string,
    mean: Float64Array,
    sd: Float64Array,
    handles?: Int32Array,
  ): OrderedPool {
    const n = ids.length;
    if (!handles) {
      if (this.handles.length < n) this.handles = new Int32Array(2 * n);
      handles = this.items.resolve(ids, n, this.handles);
    }
    if (seed !== this.seed || this.rowCount >= this.maxRows || this.era !== this.items.era) {
      this.dropRows();
      this.era = this.items.era;
      this.seed = seed;
      this.seedHash = murmur3(seed, 0x7e57);
    }
    this.epoch = epoch;
    const size = this.size;
    if (this.offsets.length < n) {
      this.offsets = new Int32Array(2 * n);
      this.rowMax = new Float64Array(2 * n);
      this.lazy.unfilled = new Uint8Array(2 * n);
    }
    const { offsets, rowMax, rowObjs, rowRefs } = this;
    const unfilled = this.lazy.unfilled;
    rowObjs.length = n;
    rowRefs.length = n;
    for (let c = 0; c < n; c++) {
      const row = this.row(handles[c]!, ids[c]!);
      rowObjs[c] = row;
      rowRefs[c] = row.z;
      rowMax[c] = row.max;
      offsets[c] = ((row.hash ^ contextHash) >>> 0) % size;
      unfilled[c] = row.filled ? 0 : 1;
    }
    return this.pool.load(n, epoch, rowRefs, rowMax, offsets, mean, sd, this.lazy);
  }

  /** The item's row for the current epoch: its largest draw made when the epoch moved (no allocation). */
  private row(handle: number, id: string): NoiseRow {
    let row = this.rows[handle];
    if (!row) {
      row = {
        z: new Float32Array(this.size),
        epoch: -1,
        hash: murmur3(id, 0x5eed),
        max: 0,
        maxAt: 0,
        uMax: 0,
        filled: false,
      };
      while (this.rows.length < handle) this.rows.push(undefined);
      this.rows[handle] = row;
      this.rowCount++;
    }
    if (row.epoch !== this.epoch) {
      row.epoch = this.epoch;
      const rng = this.rowRng(row);
      row.uMax = rng.next() ** (1 / this.size);
      row.maxAt = Math.floor(rng.next() * this.size);
      // Stored as float32, as the row's values (the bound is of the stored, rounded values).
      row.max = Math.fround(normalOfUniform(row.uMax));
      row.filled = false;
      this.rowsDrawn++;
    }
    return row;
  }

  /** Seeded by (policy, epoch, item) without hashing a string per epoch. */
  private rowRng(row: NoiseRow): Xoshiro128 {
    return new Xoshiro128(Math.imul(this.seedHash ^ row.hash, 0x9e3779b1) ^ Math.imul(row.epoch + 1, 0x85ebca77));
  }

  /** The rest of a row whose largest draw was made: M − 1 values below it (the same ones whenever it is filled). */
  private fill(row: NoiseRow): void {
    if (row.filled) return;
    const rng = this.rowRng(row);
    rng.next();
    rng.next();
    const { uniforms, size } = this;
    rng.fill(uniforms, size);
    const { z, uMax } = row;
    for (let m = 0; m < size; m++) z[m] = normalOfUniform(uniforms[m]! * uMax);
    z[row.maxAt] = row.max;
    row.filled = true;
    this.rowsFilled++;
  }

  /** Items with a row (drawn for this or an earlier epoch). */
  get cached(): number {
    return this.rowCount;
  }

  clear(): void {
    this.dropRows();
    this.epoch = -1;
  }

  private dropRows(): void {
    this.rows = [];
    this.rowCount = 0;
  }
}

interface NoiseRow {
  /** The row (valid once `filled`). */
  z: Float32Array;
  /** The epoch its largest draw was made for. */
  epoch: number;
  hash: number;
  /** The largest of z (a float32 value): the pool's bound on this item's scores; at index maxAt. */
  max: number;
  maxAt: number;
  /** The uniform the largest value is the quantile of: the others are quantiles of uniforms below it. */
  uMax: number;
  filled: boolean;
}
