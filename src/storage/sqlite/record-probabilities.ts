import type { ByteReader, ByteWriter } from "./byte-io.js";

/**
 * One slot's logged distribution in the compact record (record-codec.ts), in the smallest of four forms:
 *
 *   ABSENT   no distribution
 *   DENSE    n Float64 values
 *   SPARSE   the non-zero entries as (index, Float64) pairs, for mostly-zero distributions (greedy, top-k)
 *   PALETTE  (record version 2) the distinct values once as Float64, then a 4-bit code per entry: Thompson
 *            sampling's distributions hold a handful of distinct values (counts out of the sample pool plus
 *            one exploration floor: ~7 distinct values in 100 candidates in `bench rank`), so a 100-candidate
 *            slot takes ~110 bytes instead of 800, and the record about half its size
 *   COUNTS   (record version 3) share and base as Float64, the +0 entries' indices, and (index, count) for the
 *            entries above base: a Thompson pool's slot distribution is exactly p[c] = count_c · share + base
 *            for an unplaced candidate and 0 for a placed one (ordered-pool.ts, sample-pool.ts: share =
 *            (1 − ε)/M, base = ε/|unplaced|, count_c = pool samples c wins), and most counts are 0 (M = 64
 *            samples over 100 candidates), so a slot takes ~45 bytes. The record does not carry share and base:
 *            they are recovered from the values (base = the smallest positive value, share from the policy's own
 *            expression) and the form is used only when decoding, with the same float operations, gives back
 *            every value bit for bit (checked at encode time); otherwise another form is used.
 *
 * Every form is exact: values are stored as the Float64 they are (-0 and NaN included), never rounded.
 */
const PROBS_ABSENT = 0;
const PROBS_DENSE = 1;
const PROBS_SPARSE = 2;
const PROBS_PALETTE = 3;
const PROBS_COUNTS = 4;
/** Distinct values a palette holds at most: a code is 4 bits. */
const PALETTE_MAX = 16;

/** Reused per call (encoding is synchronous). */
let scratchValues = new Float64Array(1024);
let scratchCodes = new Uint8Array(1024);
const palette = new Float64Array(PALETTE_MAX);

/** Same Float64 bits, for palette matching: -0 and 0 differ, NaN never matches (it gets an entry each). */
const sameValue = (a: number, b: number) => a === b && (a !== 0 || 1 / a === 1 / b);

/** Writes a distribution; false (nothing usable written) when an entry is not a number. */
export function writeProbabilities(
  p: ArrayLike<unknown> | undefined,
  part: ByteWriter,
  allowPalette: boolean,
): boolean {
  if (p === undefined) {
    part.u8(PROBS_ABSENT);
    return true;
  }
  // A rank's distribution is the policy's Float64Array, coded as it is; a plain array (a record read back, an
  // import) is checked and copied into the Float64 scratch first. The coding loop then sees one array type.
  const n = p.length;
  if (scratchValues.length < n) {
    scratchValues = new Float64Array(Math.max(n, scratchValues.length * 2));
    scratchCodes = new Uint8Array(scratchValues.length);
  }
  let values: Float64Array;
  if (p instanceof Float64Array) values = p;
  else {
    values = scratchValues;
    for (let j = 0; j < n; j++) {
      const v = p[j];
      if (typeof v !== "number") return false;
      values[j] = v;
    }
  }
  const codes = scratchCodes;
  codeValues(values, n, codes, allowPalette);
  const { nonZero, distinct } = counted;
  const form = smallestForm(n, nonZero, distinct, allowPalette && distinct > 1 && fitCounts(values, n));
  part.u8(form);
  part.varint(n);
  if (form === PROBS_DENSE) part.f64Array(values, n);
  else if (form === PROBS_SPARSE) writeSparse(values, n, nonZero, part);
  else if (form === PROBS_COUNTS) writeCounts(values, n, part);
  else writePalette(codes, n, distinct, part);
  return true;
}

/** What `codeValues` counted (reused: no object per slot). */
const counted = { nonZero: 0, distinct: 0 };

/** Counts the non-zero entries and codes each against the palette (`distinct` past PALETTE_MAX: no palette). */
function codeValues(values: Float64Array, n: number, codes: Uint8Array, allowPalette: boolean): void {
  let nonZero = 0;
  let distinct = allowPalette ? 0 : PALETTE_MAX + 1;
  let last = 0;
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    // -0 counts as non-zero: it must round-trip bit for bit.
    if (v !== 0 || 1 / v < 0) nonZero++;
    if (distinct > PALETTE_MAX) continue;
    // Runs of the same value are common (the exploration floor): the last code is tried first.
    if (distinct > 0 && sameValue(v, palette[last] as number)) {
      codes[j] = last;
      continue;
    }
    last = paletteCode(v, distinct);
    if (last === distinct) {
      if (distinct < PALETTE_MAX) palette[distinct] = v;
      distinct++;
    }
    codes[j] = last;
  }
  counted.nonZero = nonZero;
  counted.distinct = distinct;
}

function paletteCode(v: number, distinct: number): number {
  for (let c = 0; c < distinct && c < PALETTE_MAX; c++) if (sameValue(v, palette[c] as number)) return c;
  return distinct;
}

/**
 * Bytes after the form and length: dense 8n; sparse ~9-10 per non-zero entry; palette 8 per value + n/2;
 * counts 18 + an index per zero and an index and a count per entry above base (what `fitCounts` left in `countFit`).
 */
function smallestForm(n: number, nonZero: number, distinct: number, counts: boolean): number {
  const dense = 8 * n;
  const sparse = 1 + nonZero * (n < 128 ? 9 : 10);
  const palette = distinct <= PALETTE_MAX ? 1 + 8 * distinct + ((n + 1) >> 1) : Number.POSITIVE_INFINITY;
  const idx = n < 128 ? 1 : 2;
  const byCounts = counts
    ? 18 + (countFit.zeros + countFit.above) * idx + countFit.countBytes
    : Number.POSITIVE_INFINITY;
  if (byCounts < palette && byCounts < sparse && byCounts < dense) return PROBS_COUNTS;
  if (palette < sparse && palette < dense) return PROBS_PALETTE;
  return sparse < dense ? PROBS_SPARSE : PROBS_DENSE;
}

/** What `fitCounts` found (reused: no object per slot). */
const countFit = { share: 0, base: 0, zeros: 0, above: 0, countBytes: 0 };
/** Counts above this are not coded (a pool is far smaller): keeps a count in a small varint. */
const COUNT_MAX = 0xffff;

/**
 * Whether the distribution is count · share + base on its positive entries and +0 elsewhere, for some share
 * and base that reproduce every value bit for bit; leaves them in `countFit`. base is the smallest positive
 * value (an unplaced candidate no sample chose; absent when every candidate won some sample: no fit). share
 * is rebuilt as the policy computes it, (1 − ε)/M with ε = base · |unplaced| (or one of its nearest Float64
 * neighbours) and M the sum of the counts the values imply; it is kept only if it reproduces every value.
 */
function fitCounts(values: Float64Array, n: number): boolean {
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
  countFit.base = base;
  countFit.zeros = zeros;
  const gap = next - base;
  const pool = poolOf(values, n, base, gap);
  if (pool === 0) return false;
  // ε = base · |unplaced| need not give back the policy's ε to the bit (base was rounded): its neighbours too.
  const floor = base * (n - zeros);
  for (let ulps = 0; ulps <= 4; ulps++) {
    const f = ulps === 0 ? floor : stepUlps(floor, ulps % 2 === 1 ? (ulps + 1) / 2 : -ulps / 2);
    if (reproduces(values, n, (1 - f) / pool, base)) return true;
  }
  return false;
}

/**
 * The pool size M = Σ counts, or 0 when the values are not base plus multiples of one share. The gap from
 * base to the next value is the share times the smallest count above 0 (1 mostly; tried up to 8).
 */
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

/** Whether every positive value above base is k · share + base for an integer k in 1..COUNT_MAX, exactly. */
function reproduces(values: Float64Array, n: number, share: number, base: number): boolean {
  if (!(share > 0) || share === Number.POSITIVE_INFINITY) return false;
  let above = 0;
  let countBytes = 0;
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v === 0 || v === base) continue;
    const k = Math.round((v - base) / share);
    // The decoder's expression, operation for operation: (k · share) + base, each rounded to Float64.
    if (!(k >= 1 && k <= COUNT_MAX) || k * share + base !== v) return false;
    above++;
    countBytes += k < 0x80 ? 1 : k < 0x4000 ? 2 : 3;
  }
  countFit.share = share;
  countFit.above = above;
  countFit.countBytes = countBytes;
  return true;
}

function writeCounts(values: Float64Array, n: number, part: ByteWriter): void {
  const { share, base, zeros, above } = countFit;
  part.f64(share);
  part.f64(base);
  part.varint(zeros);
  for (let j = 0; j < n; j++) if (values[j] === 0) part.varint(j);
  part.varint(above);
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v === 0 || v === base) continue;
    part.varint(j);
    part.varint(Math.round((v - base) / share));
  }
}

function readCounts(part: ByteReader, out: Float64Array | undefined, at: number, n: number): void {
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

function writeSparse(values: Float64Array, n: number, nonZero: number, part: ByteWriter): void {
  part.varint(nonZero);
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v === 0 && 1 / v > 0) continue;
    part.varint(j);
    part.f64(v);
  }
}

function writePalette(codes: Uint8Array, n: number, distinct: number, part: ByteWriter): void {
  part.u8(distinct);
  for (let c = 0; c < distinct; c++) part.f64(palette[c] as number);
  part.reserve((n + 1) >> 1);
  for (let j = 0; j < n; j += 2)
    part.u8Unchecked((codes[j] as number) | (j + 1 < n ? (codes[j + 1] as number) << 4 : 0));
}

/**
 * Reads one slot's distribution into `out` at `at` (`out` holds at least `at` + its length); returns its
 * length, or -1 when absent. `out` undefined skips it (readers that need no distributions).
 */
export function readProbabilitiesInto(part: ByteReader, out: Float64Array | undefined, at: number): number {
  const form = part.u8();
  if (form === PROBS_ABSENT) return -1;
  const n = part.varint();
  if (form === PROBS_DENSE) {
    if (out) part.f64sInto(out, at, n);
    else part.at += n * 8;
  } else if (form === PROBS_SPARSE) {
    out?.fill(0, at, at + n);
    const nonZero = part.varint();
    for (let k = 0; k < nonZero; k++) {
      const j = part.varint();
      const v = part.f64();
      if (out) out[at + j] = v;
    }
  } else if (form === PROBS_PALETTE) readPalette(part, out, at, n);
  else if (form === PROBS_COUNTS) readCounts(part, out, at, n);
  else throw new Error(`decision record: unknown distribution form ${form}`);
  return n;
}

function readPalette(part: ByteReader, out: Float64Array | undefined, at: number, n: number): void {
  const distinct = part.u8();
  if (!out) {
    part.at += distinct * 8 + ((n + 1) >> 1);
    return;
  }
  for (let c = 0; c < distinct; c++) palette[c] = part.f64();
  for (let j = 0; j < n; j += 2) {
    const b = part.u8();
    out[at + j] = palette[b & 15] as number;
    if (j + 1 < n) out[at + j + 1] = palette[b >> 4] as number;
  }
}

/** Length of the next distribution without reading it: -1 when absent (callers size their output). */
export function peekProbabilitiesLength(part: ByteReader): number {
  const at = part.at;
  const form = part.u8();
  const n = form === PROBS_ABSENT ? -1 : part.varint();
  part.at = at;
  return n;
}

let scratchOut = new Float64Array(1024);

/** One distribution as a plain array (the `DecisionRecord` shape); undefined when absent or not kept. */
export function readProbabilities(part: ByteReader, keep: boolean): number[] | undefined {
  const n = peekProbabilitiesLength(part);
  if (!keep || n < 0) {
    readProbabilitiesInto(part, undefined, 0);
    return undefined;
  }
  if (scratchOut.length < n) scratchOut = new Float64Array(Math.max(n, scratchOut.length * 2));
  readProbabilitiesInto(part, scratchOut, 0);
  const values = new Array<number>(n);
  for (let j = 0; j < n; j++) values[j] = scratchOut[j] as number;
  return values;
}
