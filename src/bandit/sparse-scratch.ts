/**
 * A dense scratch vector x over the disjoint model's hashed space (all zero between calls), with its non-zero
 * slots listed in `nz` and flagged in `inNz`, and the sums predictions and updates take over the listed slots.
 * A request's shared part is added once (`add`); each candidate's own entries go on top (`overlay`) and are
 * taken off again (`restore`), so a candidate costs its own entries, not a rebuild of x.
 */
export class SparseScratch {
  readonly x: Float64Array;
  readonly nz: Int32Array;
  readonly inNz: Uint8Array;
  /** Values of x overwritten by one candidate's entries (a stack), put back after that candidate. */
  private saved = new Float64Array(64);
  private savedAt = new Int32Array(64);
  private savedCount = 0;

  /** `off`: packed-triangle row offsets of the model's covariances (packed-symmetric.ts), as quadratic() reads them. */
  constructor(
    dims: number,
    private readonly off: Int32Array,
  ) {
    this.x = new Float64Array(dims);
    this.nz = new Int32Array(dims);
    this.inNz = new Uint8Array(dims);
  }

  /** Adds entries [from, to) of (idx, val) to x, listing new slots in nz from k; returns the new k. */
  add(idx: Int32Array, val: Float64Array, from: number, to: number, k: number): number {
    const { x, nz, inNz } = this;
    for (let j = from; j < to; j++) {
      const i = idx[j]!;
      if (inNz[i] === 0) {
        inNz[i] = 1;
        nz[k++] = i;
      }
      x[i] = x[i]! + val[j]!;
    }
    return k;
  }

  /** Zeroes x on nz[0..k) and their flags. */
  clear(k: number): void {
    const { x, nz, inNz } = this;
    for (let j = 0; j < k; j++) {
      const i = nz[j]!;
      x[i] = 0;
      inNz[i] = 0;
    }
  }

  /** Adds entries [from, to) on top of the shared x (nz[0..ks)), saving what they overwrite; returns k. */
  overlay(idx: Int32Array, val: Float64Array, from: number, to: number, ks: number): number {
    if (this.saved.length < to - from) {
      this.saved = new Float64Array(2 * (to - from));
      this.savedAt = new Int32Array(2 * (to - from));
    }
    const { x, nz, inNz, saved, savedAt } = this;
    let k = ks;
    let q = 0;
    for (let j = from; j < to; j++) {
      const i = idx[j]!;
      if (inNz[i] === 0) {
        inNz[i] = 1;
        nz[k++] = i;
      }
      savedAt[q] = i;
      saved[q++] = x[i]!;
      x[i] = x[i]! + val[j]!;
    }
    this.savedCount = q;
    return k;
  }

  /** Undoes overlay(): x back to the shared part, slots nz[ks..k) unlisted. */
  restore(ks: number, k: number): void {
    const { x, saved, savedAt } = this;
    for (let q = this.savedCount - 1; q >= 0; q--) x[savedAt[q]!] = saved[q]!;
    for (let j = ks; j < k; j++) this.inNz[this.nz[j]!] = 0;
  }

  /** Σ over the listed slots of w[base + i]·x[i] (w = x gives |x|²). */
  dot(w: Float64Array, k: number, base = 0): number {
    const { x, nz } = this;
    let s = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      s += w[base + i]! * x[i]!;
    }
    return s;
  }

  /** Σ over the listed slots of w[base + at[i]]·x[i]: dot() for a w laid out by `at` (the arena's float32 μ). */
  dotAt(w: Float32Array, k: number, base: number, at: Int32Array): number {
    const { x, nz } = this;
    let s = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      s += w[base + at[i]!]! * x[i]!;
    }
    return s;
  }

  /**
   * xᵀΣx over the listed slots, Σ[i, j] (i ≤ j) at base + off[i] + j of `cov` (packed): symmetric, so the diagonal
   * plus twice the upper part.
   */
  quadratic(cov: Float64Array, k: number): number {
    const { x, nz, off } = this;
    let v = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      const xi = x[i]!;
      const oi = off[i]!;
      let s = 0.5 * cov[oi + i]! * xi;
      for (let b = a + 1; b < k; b++) {
        const j = nz[b]!;
        s += cov[i <= j ? oi + j : off[j]! + i]! * x[j]!;
      }
      v += 2 * xi * s;
    }
    return v;
  }

  /**
   * quadratic() for the packed Σ at `base` of the arena's float32 `data`, in its layout (arena-layout.ts: slot i at
   * place order[i], rows at rowAt): the same operations in float64; a function of its own so each keeps its
   * element loads monomorphic.
   */
  quadraticInArena(data: Float32Array, k: number, base: number, rowAt: Int32Array, order: Int32Array): number {
    const { x, nz } = this;
    let v = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      const xi = x[i]!;
      const p = order[i]!;
      const op = base + rowAt[p]!;
      let s = 0.5 * data[op + p]! * xi;
      for (let b = a + 1; b < k; b++) {
        const q = order[nz[b]!]!;
        s += data[p <= q ? op + q : base + rowAt[q]! + p]! * x[nz[b]!]!;
      }
      v += 2 * xi * s;
    }
    return v;
  }
}
