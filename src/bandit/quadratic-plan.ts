/**
 * One x of a request (its listed non-zero slots) turned, once, into the positions of a packed covariance
 * (packed-symmetric.ts) that xᵀΣx reads, each with the x value it is multiplied by. Every candidate of a request
 * whose x is the request's shared part alone (the default hybrid: its arms see the context, and the context
 * only) is then predicted by a gather over those positions: no per-candidate overlay of x, no index
 * arithmetic or branch per pair, only the arm's own numbers read. The operations are
 * DisjointGaussian's dot() and quadratic() in the same order on the same values, so the same numbers, bit for
 * bit: the plan only moves the index work out of the per-arm loop.
 */
export class QuadraticPlan {
  /** Listed slots. */
  k = 0;
  /** Per listed slot a: its slot, x value, and Σ's diagonal position. */
  private readonly slots: Int32Array;
  private readonly xs: Float64Array;
  private readonly diag: Int32Array;
  /** Pairs (a, b > a) of slot a are pos/xj[rowStart[a], rowStart[a + 1]): Σ's position of (i, j) and x_j. */
  private readonly rowStart: Int32Array;
  private readonly pos: Int32Array;
  private readonly xj: Float64Array;
  /** The diagonal position of the first listed slot (−1 when x is empty): an entry every variance() reads. */
  get firstPosition(): number {
    return this.k > 0 ? this.diag[0]! : -1;
  }
  /** Σ_a x_i² in listing order: dot(x, x), the variance at the prior divided by its p. */
  norm2 = 0;
  /**
   * One position per cache line the plan reads in an arena arm (lines of 16 float32 from the arm's start; see
   * `lines()`), for `ServingArena.resolve` to touch ahead of the sums.
   */
  readonly probes: Int32Array;
  probeCount = 0;

  constructor(dims: number) {
    this.slots = new Int32Array(dims);
    this.xs = new Float64Array(dims);
    this.diag = new Int32Array(dims);
    this.rowStart = new Int32Array(dims + 1);
    this.pos = new Int32Array((dims * (dims - 1)) / 2);
    this.xj = new Float64Array((dims * (dims - 1)) / 2);
    this.probes = new Int32Array(dims * 2 + (dims * (dims - 1)) / 2);
  }

  /**
   * After build() for the arena: `probes` = one position of each 64-byte line (16 float32) that meanBeforeDiagonal()
   * and varianceInArena() read, relative to an arm's base. Distinct lines in order of first read; a few dozen at most.
   */
  lines(): void {
    const { diag, pos, k, probes } = this;
    const t = k > 0 ? this.rowStart[k]! : 0;
    let count = 0;
    const add = (at: number) => {
      const line = at >> 4;
      for (let i = 0; i < count; i++) if (probes[i]! >> 4 === line) return;
      probes[count++] = at;
    };
    for (let a = 0; a < k; a++) add(diag[a]! - 1);
    for (let a = 0; a < k; a++) add(diag[a]!);
    for (let i = 0; i < t; i++) add(pos[i]!);
    this.probeCount = count;
  }

  /**
   * The plan of the dense x listed by nz[0..k) (packed offsets `off`), its slots at the places `order` gives
   * (arena-layout.ts; slot i at place i when absent): only the positions move, the listing order stays.
   */
  build(x: Float64Array, nz: Int32Array, k: number, off: Int32Array, order?: Int32Array): void {
    const { slots, xs, diag, rowStart, pos, xj } = this;
    let t = 0;
    let norm2 = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      const xi = x[i]!;
      const p = order === undefined ? i : order[i]!;
      slots[a] = i;
      xs[a] = xi;
      diag[a] = off[p]! + p;
      norm2 += xi * xi;
      rowStart[a] = t;
      for (let b = a + 1; b < k; b++) {
        const j = nz[b]!;
        const q = order === undefined ? j : order[j]!;
        pos[t] = p <= q ? off[p]! + q : off[q]! + p;
        xj[t++] = x[j]!;
      }
    }
    rowStart[k] = t;
    this.k = k;
    this.norm2 = norm2;
  }

  /** μᵀx, as DisjointGaussian.dot(mu, k), for the μ at `base` of `mu` (an arm's own array: 0). */
  mean(mu: Float64Array, base = 0): number {
    const { slots, xs, k } = this;
    let s = 0;
    for (let a = 0; a < k; a++) s += mu[base + slots[a]!]! * xs[a]!;
    return s;
  }

  /** μᵀx for a μ stored just before each diagonal entry (serving-arena.ts's float32 layout) at `base` of `data`. */
  meanBeforeDiagonal(data: Float32Array, base: number): number {
    const { diag, xs, k } = this;
    let s = 0;
    for (let a = 0; a < k; a++) s += data[base + diag[a]! - 1]! * xs[a]!;
    return s;
  }

  /**
   * xᵀΣx for an arm's own packed Σ, as DisjointGaussian.quadratic(cov, k): the diagonal plus twice the upper part.
   */
  variance(cov: Float64Array): number {
    const { xs, diag, rowStart, pos, xj, k } = this;
    let v = 0;
    for (let a = 0; a < k; a++) {
      const xi = xs[a]!;
      let s = 0.5 * cov[diag[a]!]! * xi;
      for (let t = rowStart[a]!, end = rowStart[a + 1]!; t < end; t++) s += cov[pos[t]!]! * xj[t]!;
      v += 2 * xi * s;
    }
    return v;
  }

  /**
   * variance() for the packed Σ at `base` of the arena's float32 `data` (serving-arena.ts), the same operations in
   * the same order in float64. A function of its own rather than one over both array types: each keeps its element
   * loads monomorphic (the learner's float64 arms and the arena are both read in one process).
   */
  varianceInArena(data: Float32Array, base: number): number {
    const { xs, diag, rowStart, pos, xj, k } = this;
    let v = 0;
    for (let a = 0; a < k; a++) {
      const xi = xs[a]!;
      let s = 0.5 * data[base + diag[a]!]! * xi;
      for (let t = rowStart[a]!, end = rowStart[a + 1]!; t < end; t++) s += data[base + pos[t]!]! * xj[t]!;
      v += 2 * xi * s;
    }
    return v;
  }
}
