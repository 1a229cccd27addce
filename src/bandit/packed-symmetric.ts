/**
 * Symmetric d×d matrices stored as their packed upper triangle (d(d+1)/2 values, row by row): half the
 * memory and memory traffic of the full matrix. The disjoint model keeps one covariance per arm, and an
 * update of an arm that is not in cache is bound by moving its matrix, not by arithmetic.
 * Element (i, j) with i ≤ j is at `off[i] + j`, where off[i] = i·d − i(i−1)/2 − i.
 */
export function packedOffsets(d: number): Int32Array {
  const off = new Int32Array(d);
  for (let i = 0; i < d; i++) off[i] = i * d - (i * (i - 1)) / 2 - i;
  return off;
}

export function packedSize(d: number): number {
  return (d * (d + 1)) / 2;
}

/** p·I, packed. */
export function packedScaledIdentity(d: number, p: number, off: Int32Array): Float64Array {
  const out = new Float64Array(packedSize(d));
  for (let i = 0; i < d; i++) out[off[i]! + i] = p;
  return out;
}

/** The upper triangle of a full row-major d×d matrix (assumed symmetric), packed. */
export function pack(full: Float64Array, d: number, off: Int32Array): Float64Array {
  const out = new Float64Array(packedSize(d));
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) out[off[i]! + j] = full[i * d + j]!;
  return out;
}

/** The full row-major d×d matrix of a packed one. */
export function unpack(packed: Float64Array, d: number, off: Int32Array): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = packed[off[i]! + j]!;
      out[i * d + j] = v;
      out[j * d + i] = v;
    }
  }
  return out;
}

/** out[i] += A[j, i] · s for i = 0..d−1, in that order (row j of A, read from the packed triangle). */
export function addRowTimes(A: Float64Array, off: Int32Array, d: number, j: number, s: number, out: Float64Array) {
  for (let i = 0; i < j; i++) out[i] = out[i]! + A[off[i]! + j]! * s;
  const o = off[j]!;
  for (let i = j; i < d; i++) out[i] = out[i]! + A[o + i]! * s;
}

/**
 * out = A·x for a dense x (out overwritten): one pass over the packed triangle, each stored A[i, j] used for
 * both (i, j) and (j, i), so it reads the matrix once, contiguously. For a sparse x, addRowTimes per non-zero
 * touches fewer entries; the disjoint model picks by x's density.
 * The inner loop is unrolled by two (same operations in the same order, so the same numbers): V8 does not
 * unroll, and per element the loop's own compare, increment and bounds checks cost about as much as the
 * arithmetic (measured ~15–25 % faster at d = 32 and 64).
 */
export function symmetricTimes(A: Float64Array, off: Int32Array, d: number, x: Float64Array, out: Float64Array) {
  out.fill(0);
  for (let i = 0; i < d; i++) {
    const xi = x[i]!;
    const o = off[i]!;
    let s = A[o + i]! * xi;
    let j = i + 1;
    for (; j + 1 < d; j += 2) {
      const a = A[o + j]!;
      const b = A[o + j + 1]!;
      s += a * x[j]!;
      out[j] = out[j]! + a * xi;
      s += b * x[j + 1]!;
      out[j + 1] = out[j + 1]! + b * xi;
    }
    if (j < d) {
      const a = A[o + j]!;
      s += a * x[j]!;
      out[j] = out[j]! + a * xi;
    }
    out[i] = out[i]! + s;
  }
}

/**
 * A −= (u uᵀ)·dv on the packed triangle, in place: the covariance half of a Sherman–Morrison step. Rows with
 * u_i = 0 do not change. Each stored (i, j) gets (u_i·u_j)·dv, the full update's value for (i, j) and (j, i), so
 * A stays exactly symmetric. Unrolled by two as symmetricTimes (same numbers as the plain loop).
 */
export function rankOneDowndate(A: Float64Array, off: Int32Array, d: number, u: Float64Array, dv: number): void {
  for (let i = 0; i < d; i++) {
    const ui = u[i]!;
    if (ui === 0) continue;
    const o = off[i]!;
    let j = i;
    for (; j + 1 < d; j += 2) {
      A[o + j] = A[o + j]! - ui * u[j]! * dv;
      A[o + j + 1] = A[o + j + 1]! - ui * u[j + 1]! * dv;
    }
    if (j < d) A[o + j] = A[o + j]! - ui * u[j]! * dv;
  }
}

/**
 * rankOneDowndate out of place: B = A − (u uᵀ)·dv, A unchanged (same numbers as rankOneDowndate on a copy of A).
 * The disjoint model writes an update into spare arrays while A is also its serving copy (copy-on-write): one
 * read and one write of the matrix, where copying first and then downdating would read it twice.
 */
export function rankOneDowndateInto(
  A: Float64Array,
  B: Float64Array,
  off: Int32Array,
  d: number,
  u: Float64Array,
  dv: number,
): void {
  for (let i = 0; i < d; i++) {
    const ui = u[i]!;
    const o = off[i]!;
    if (ui === 0) {
      for (let j = i; j < d; j++) B[o + j] = A[o + j]!;
      continue;
    }
    let j = i;
    for (; j + 1 < d; j += 2) {
      B[o + j] = A[o + j]! - ui * u[j]! * dv;
      B[o + j + 1] = A[o + j + 1]! - ui * u[j + 1]! * dv;
    }
    if (j < d) B[o + j] = A[o + j]! - ui * u[j]! * dv;
  }
}
