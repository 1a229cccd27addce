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
 */
export function symmetricTimes(A: Float64Array, off: Int32Array, d: number, x: Float64Array, out: Float64Array) {
  out.fill(0);
  for (let i = 0; i < d; i++) {
    const xi = x[i]!;
    const o = off[i]!;
    let s = A[o + i]! * xi;
    for (let j = i + 1; j < d; j++) {
      const a = A[o + j]!;
      s += a * x[j]!;
      out[j] = out[j]! + a * xi;
    }
    out[i] = out[i]! + s;
  }
}
