import type { FeatureValue } from "../../core/types.js";
import type { ByteReader, ByteWriter } from "./byte-io.js";

/**
 * Candidate features in the compact decision record (record-codec.ts): per candidate, a count then
 * (name ref, tag, value) triples, names and string values referring to the record's string table.
 *
 * From record version 3:
 * - the count is `2m + same`, and `same` = 1 leaves the names out: they are the previous candidate's, in
 *   order (request candidates all carry the same keys: 4 bytes a candidate in `bench rank`);
 * - a number is coded by the shortest exact form: an integer as a zigzag varint (TAG_INT), a value with at
 *   most two decimals (a price) as its hundredths in a zigzag varint (TAG_CENTS, decoded as hundredths / 100,
 *   kept only when that division gives back the same Float64), anything else as its Float64 (TAG_NUMBER).
 *   -0 and non-finite values stay Float64. A 100-candidate request with a price, a discount and two strings
 *   takes ~11 bytes a candidate instead of ~27.
 */
const TAG_NUMBER = 0;
const TAG_STRING = 1;
const TAG_TRUE = 2;
const TAG_FALSE = 3;
const TAG_INT = 4;
const TAG_CENTS = 5;
/** Integers coded as varints stay within ±2^50: 2|v| + 1 is exact and fits the 8 bytes a triple reserves. */
const INT_LIMIT = 2 ** 50;

export class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  /** Feature names come in the same order for every candidate: the k-th name is checked first. */
  readonly recentNames: string[] = [];
  private readonly recentRefs: number[] = [];
  /** How many names the last candidate with features had (-1: none yet). */
  recentCount = -1;

  name(s: string, k: number): number {
    if (this.recentNames[k] === s) return this.recentRefs[k] as number;
    const ref = this.ref(s);
    this.recentNames[k] = s;
    this.recentRefs[k] = ref;
    return ref;
  }

  ref(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.index.set(s, i);
      this.list.push(s);
    }
    return i;
  }
}

const zigzag = (v: number) => (v >= 0 ? v * 2 : -v * 2 - 1);
const unzigzag = (z: number) => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** One candidate's features (version 3); false when a value is not a feature value (the caller falls back to JSON). */
export function writeFeatures(f: Record<string, FeatureValue>, strings: StringTable, out: ByteWriter): boolean {
  if (typeof f !== "object" || f === null || Array.isArray(f)) return false;
  let m = 0;
  let same = true;
  for (const name in f) {
    if (strings.recentNames[m] !== name) same = false;
    m++;
  }
  if (m !== strings.recentCount) same = false;
  // Room for every triple at once (name ref ≤ 8, tag 1, value ≤ 8 bytes): one bounds check a candidate.
  out.reserve(8 + m * 17);
  out.varintUnchecked(m * 2 + (same ? 1 : 0));
  let k = 0;
  for (const name in f) {
    const value = f[name];
    if (!same) out.varintUnchecked(strings.name(name, k));
    k++;
    if (typeof value === "number") writeNumberUnchecked(value, out);
    else if (typeof value === "string") {
      out.u8Unchecked(TAG_STRING);
      out.varintUnchecked(strings.ref(value));
    } else if (typeof value === "boolean") out.u8Unchecked(value ? TAG_TRUE : TAG_FALSE);
    else return false;
  }
  strings.recentCount = m;
  return true;
}

function writeNumberUnchecked(v: number, out: ByteWriter): void {
  if (Number.isInteger(v) && v > -INT_LIMIT && v < INT_LIMIT && (v !== 0 || 1 / v > 0)) {
    out.u8Unchecked(TAG_INT);
    out.varintUnchecked(zigzag(v));
    return;
  }
  const cents = Math.round(v * 100);
  // v !== 0: -0 (the only zero left here) must stay Float64; the check below is the decoder's own division.
  if (v !== 0 && cents > -INT_LIMIT && cents < INT_LIMIT && cents / 100 === v) {
    out.u8Unchecked(TAG_CENTS);
    out.varintUnchecked(zigzag(cents));
    return;
  }
  out.u8Unchecked(TAG_NUMBER);
  out.f64Unchecked(v);
}

/** The reader's side of "same names as the previous candidate": the last names read. */
export interface FeatureNames {
  names: string[];
}

/** One candidate's features; `version` 1 and 2 have a plain count and only Float64 numbers. */
export function readFeatures(
  part: ByteReader,
  strings: string[],
  version: number,
  previous: FeatureNames,
): Record<string, FeatureValue> {
  const head = part.varint();
  const m = version >= 3 ? Math.floor(head / 2) : head;
  const same = version >= 3 && head % 2 === 1;
  if (same && previous.names.length !== m) throw new RangeError("decision record: feature names missing");
  const names = same ? previous.names : new Array<string>(m);
  const out: Record<string, FeatureValue> = {};
  for (let k = 0; k < m; k++) {
    const name = same ? (names[k] as string) : (strings[part.varint()] as string);
    if (!same) names[k] = name;
    const value = readValue(part, strings);
    // An own "__proto__" key (JSON-born maps have them) must stay data, not set the prototype.
    if (name === "__proto__")
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
  }
  previous.names = names;
  return out;
}

function readValue(part: ByteReader, strings: string[]): FeatureValue {
  const tag = part.u8();
  if (tag === TAG_NUMBER) return part.f64();
  if (tag === TAG_STRING) return strings[part.varint()] as string;
  if (tag === TAG_INT) return unzigzag(part.varint());
  if (tag === TAG_CENTS) return unzigzag(part.varint()) / 100;
  if (tag === TAG_TRUE || tag === TAG_FALSE) return tag === TAG_TRUE;
  throw new RangeError(`decision record: unknown feature tag ${tag}`);
}

/**
 * Candidate ids from version 3: each as the length (UTF-16 units) of the prefix it shares with the previous
 * id, then the rest (catalog ids share most of their characters: `sku-825`, `sku-826` take 3 bytes, not 8).
 * A prefix never ends between the halves of a surrogate pair, so the rest is valid UTF-16 on its own.
 */
export function writeCandidateId(id: string, previous: string, out: ByteWriter): void {
  const limit = Math.min(id.length, previous.length, 0x7f);
  let shared = 0;
  while (shared < limit && id.charCodeAt(shared) === previous.charCodeAt(shared)) shared++;
  if (shared > 0 && shared < id.length) {
    const c = id.charCodeAt(shared - 1);
    if (c >= 0xd800 && c <= 0xdbff) shared--;
  }
  out.u8(shared);
  out.stringFrom(id, shared);
}

/** The next candidate id (`previous` is the one before, "" for the first); version 1 and 2 store ids whole. */
export function readCandidateId(part: ByteReader, previous: string, version: number): string {
  if (version < 3) return part.string();
  const shared = part.u8();
  const rest = part.string();
  return shared === 0 ? rest : previous.slice(0, shared) + rest;
}
