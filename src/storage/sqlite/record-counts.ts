import type { ByteReader, ByteWriter } from "./byte-io.js";

/**
 * The COUNTS form of a logged distribution (record-probabilities.ts, record version 3): a Thompson pool's slot
 * distribution is exactly p[c] = count_c · share + base for an unplaced candidate and 0 for a placed one
 * (ordered-pool.ts, sample-pool.ts: share = (1 − ε)/M, base = ε/|unplaced|, count_c = the pool samples c
 * wins), and most counts are 0 (M = 64 samples over 100 candidates). Stored as share and base (Float64), the
 * indices of the +0 entries, then (index, count) for the entries above base: ~50-80 bytes for 100 candidates.
 *
 * The record does not carry share and base: they are recovered from the values, and the form is used only when
 * decoding, with the same float operations, gives back every value bit for bit (checked here, at encode time).
 * base is the smallest positive value (an unplaced candidate no sample chose; absent when every candidate won
 * some sample: no fit). share is rebuilt as the policy computes it, (1 − ε)/M, with ε = base · |unplaced| (or
 * one of its nearest Float64 neighbours: base was rounded) and M the sum of the counts the values imply.
 */

/** What `fitCounts` found (reused: no object per slot); `bytes` is the form's size after its form and length. */
export const countFit = { share: 0, base: 0, zeros: 0, above: 0, bytes: 0, distinct: 0 };
/** Counts above this are not coded (a pool is far smaller): a count stays a short varint. */
const COUNT_MAX = 0xffff;
/** Per entry of the last fit: -1 for +0, 0 for base, else its count. */
let counts = new Int32Array(1024);
/** Which counts the last fit saw (stamped, so nothing is cleared between fits): the distinct values a palette needs. */
const countSeen = new Uint32Array(COUNT_MAX + 1);
let stamp = 0;

const varintBytes = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : 3);

/** Whether the counts form holds `values` exactly; its parameters, size and distinct values in `countFit`. */
export function fitCounts(values: Float64Array, n: number): boolean {
  let base = Number.POSITIVE_INFINITY;
  let next = Number.POSITIVE_INFINITY;
  let zeros = 0;
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v === 0) {
      if (1 / v < 0) return false;
      zeros++;
    } else if (!(v > 0) || v === Number.POSITIVE_INFINITY) return false;
    else if (v < base) {
      next = base;
      base = v;
    } else if (v > base && v < next) next = v;
  }
  if (next === Number.POSITIVE_INFINITY) return false;
  if (counts.length < n) counts = new Int32Array(Math.max(n, counts.length * 2));
  countFit.base = base;
  countFit.zeros = zeros;
  const floor = base * (n - zeros);
  const gap = next - base;
  // The gap is mostly one count's share (M = (1 − ε)/gap); when not, M is the sum of the implied counts.
  const guess = Math.round((1 - floor) / gap);
  if (guess >= 1 && withFloorNeighbours(values, n, floor, guess)) return true;
  const pool = poolOf(values, n, base, gap);
  return pool !== 0 && pool !== guess && withFloorNeighbours(values, n, floor, pool);
}

function withFloorNeighbours(values: Float64Array, n: number, floor: number, pool: number): boolean {
  for (let ulps = 0; ulps <= 4; ulps++) {
    const f = ulps === 0 ? floor : stepUlps(floor, ulps % 2 === 1 ? (ulps + 1) / 2 : -ulps / 2);
    if (reproduces(values, n, (1 - f) / pool)) return true;
  }
  return false;
}

/** Σ counts when every value above base is base plus a multiple of gap / s (s = 1..8), else 0. */
function poolOf(values: Float64Array, n: number, base: number, gap: number): number {
  for (let smallest = 1; smallest <= 8; smallest++) {
    const share = gap / smallest;
    let total = 0;
    for (let j = 0; j < n && total >= 0; j++) {
      const v = values[j] as number;
      if (v === 0 || v === base) continue;
      const q = (v - base) / share;
      const k = Math.round(q);
      total = Math.abs(q - k) < 1e-6 ? total + k : -1;
    }
    if (total > 0) return total;
  }
  return 0;
}

const ulpF64 = new Float64Array(1);
const ulpBits = new BigInt64Array(ulpF64.buffer);

/** The Float64 `k` representable steps away from positive finite `x` (k may be negative). */
function stepUlps(x: number, k: number): number {
  ulpF64[0] = x;
  ulpBits[0] = (ulpBits[0] as bigint) + BigInt(k);
  return ulpF64[0] as number;
}

/** Whether every value above base is k · share + base for an integer k in 1..COUNT_MAX, exactly; codes each. */
function reproduces(values: Float64Array, n: number, share: number): boolean {
  if (!(share > 0) || share === Number.POSITIVE_INFINITY) return false;
  const { base } = countFit;
  const inverse = 1 / share;
  const s = ++stamp;
  let above = 0;
  let countBytes = 0;
  let distinct = 0;
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v === 0 || v === base) {
      counts[j] = v === 0 ? -1 : 0;
      continue;
    }
    // The rounding only guesses k; the check is the decoder's expression, operation for operation.
    const k = Math.round((v - base) * inverse);
    if (!(k >= 1 && k <= COUNT_MAX) || k * share + base !== v) return false;
    counts[j] = k;
    above++;
    countBytes += varintBytes(k);
    if (countSeen[k] !== s) {
      countSeen[k] = s;
      distinct++;
    }
  }
  const idx = varintBytes(n - 1);
  countFit.share = share;
  countFit.above = above;
  countFit.bytes = 16 + varintBytes(countFit.zeros) + varintBytes(above) + (countFit.zeros + above) * idx + countBytes;
  // The values a palette would hold: base, +0 if present, one per distinct count.
  countFit.distinct = 1 + (countFit.zeros > 0 ? 1 : 0) + distinct;
  return true;
}

/** Writes the last fit (`fitCounts` on these values just returned true). */
export function writeCounts(n: number, part: ByteWriter): void {
  const { share, base, zeros, above } = countFit;
  part.reserve(countFit.bytes);
  part.f64Unchecked(share);
  part.f64Unchecked(base);
  part.varintUnchecked(zeros);
  for (let j = 0; j < n; j++) if (counts[j] === -1) part.varintUnchecked(j);
  part.varintUnchecked(above);
  for (let j = 0; j < n; j++) {
    const k = counts[j] as number;
    if (k <= 0) continue;
    part.varintUnchecked(j);
    part.varintUnchecked(k);
  }
}

export function readCounts(part: ByteReader, out: Float64Array | undefined, at: number, n: number): void {
  const share = part.f64();
  const base = part.f64();
  out?.fill(base, at, at + n);
  const zeros = part.varint();
  for (let k = 0; k < zeros; k++) {
    const j = entryIndex(part, n);
    if (out) out[at + j] = 0;
  }
  const above = part.varint();
  for (let k = 0; k < above; k++) {
    const j = entryIndex(part, n);
    const count = part.varint();
    if (out) out[at + j] = count * share + base;
  }
}

/** An entry's index, checked: a damaged record must not write into the next slot's values. */
function entryIndex(part: ByteReader, n: number): number {
  const j = part.varint();
  if (j >= n) throw new RangeError("decision record: distribution index out of range");
  return j;
}
