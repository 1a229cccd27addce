import type { ByteReader, ByteWriter } from "./byte-io.js";
import { countFit, fitCounts, readCounts, writeCounts } from "./record-counts.js";

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
 *   COUNTS   (record version 3) a Thompson pool's counts with its share and base (record-counts.ts): ~50-80
 *            bytes for 100 candidates, used only when it gives back every value bit for bit
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

/**
 * A distribution in the DENSE form as it is (one copy of its bytes): the transit record's (record-codec.ts
 * `encodeTransit`), coded into its smallest form on the log writer's thread by `writeProbabilities`.
 */
export function writeDense(p: Float64Array, part: ByteWriter): void {
  part.u8(PROBS_DENSE);
  part.varint(p.length);
  part.f64Array(p, p.length);
}

/**
 * The next distribution when it is in the DENSE form (a view on scratch values, valid until the next call);
 * undefined, nothing read, when it is in another form.
 */
export function readDense(part: ByteReader): Float64Array | undefined {
  const at = part.at;
  if (part.u8() !== PROBS_DENSE) {
    part.at = at;
    return undefined;
  }
  const n = part.varint();
  if (scratchDense.length < n) scratchDense = new Float64Array(Math.max(n, scratchDense.length * 2));
  part.f64sInto(scratchDense, 0, n);
  return scratchDense.subarray(0, n);
}

let scratchDense = new Float64Array(1024);

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
  // Counts first: when they fit, their size and the palette's are known without coding the palette.
  if (allowPalette && fitCounts(values, n) && countsSmallest(n)) {
    part.u8(PROBS_COUNTS);
    part.varint(n);
    writeCounts(n, part);
    return true;
  }
  const codes = scratchCodes;
  codeValues(values, n, codes, allowPalette);
  const { nonZero, distinct } = counted;
  const form = smallestForm(n, nonZero, distinct);
  part.u8(form);
  part.varint(n);
  if (form === PROBS_DENSE) part.f64Array(values, n);
  else if (form === PROBS_SPARSE) writeSparse(values, n, nonZero, part);
  else writePalette(codes, n, distinct, part);
  return true;
}

/** Whether the counts `fitCounts` found take no more bytes than the palette, sparse or dense form. */
function countsSmallest(n: number): boolean {
  const { bytes, distinct, zeros } = countFit;
  const palette = distinct <= PALETTE_MAX ? 1 + 8 * distinct + ((n + 1) >> 1) : Number.POSITIVE_INFINITY;
  return bytes <= palette && bytes <= sparseBytes(n, n - zeros) && bytes < 8 * n;
}

const sparseBytes = (n: number, nonZero: number) => 1 + nonZero * (n < 128 ? 9 : 10);

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

/** Bytes after the form and length: dense 8n; sparse ~9-10 per non-zero entry; palette 8 per value + n/2. */
function smallestForm(n: number, nonZero: number, distinct: number): number {
  const dense = 8 * n;
  const sparse = sparseBytes(n, nonZero);
  const palette = distinct <= PALETTE_MAX ? 1 + 8 * distinct + ((n + 1) >> 1) : Number.POSITIVE_INFINITY;
  if (palette < sparse && palette < dense) return PROBS_PALETTE;
  return sparse < dense ? PROBS_SPARSE : PROBS_DENSE;
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
