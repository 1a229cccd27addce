import type { FeatureValue } from "../../core/types.js";
import type { DecisionRecord, LoggedCandidate, LoggedSlot } from "../../decisions/decision-record.js";
import { ByteReader, ByteWriter } from "./byte-io.js";

/**
 * The compact decision record (the `decisions.record` BLOB). Everything a `DecisionRecord` holds, laid
 * out so the bulk is binary and each repeated string is stored once:
 *
 *   magic, version
 *   [strings]    candidate feature names and string values, each once (they repeat across candidates)
 *   [rest]       JSON of the remaining fields (ids, context, profile features, policy, ...), small
 *   [candidates] mode; binary: count, ids (unique within a decision: inline), flags, scores
 *   [features]   candidate features: per candidate, (name ref, tag, value) triples
 *   [slots]      mode; binary: position, index, item id (a flag when it is the candidate at `index`, as rank
 *                always logs), propensity (Float64) and the distribution as Float64, dense or as sparse
 *                (index, value) pairs when most entries are 0
 *
 * Each bracket is a length-prefixed section, so readers that need only some parts (the log writer's
 * facts and reward classification) skip the rest. Probabilities are Float64: propensities round-trip
 * bit for bit. A candidate list or slot list that does not fit the binary shape (extra fields, non-number
 * probabilities in a migrated JSON record) is stored as JSON in its section instead, so any record
 * round-trips exactly.
 */
const MAGIC = 0xd5;
const VERSION = 1;
const BINARY = 0;
const JSON_MODE = 1;
const PROBS_ABSENT = 0;
const PROBS_DENSE = 1;
const PROBS_SPARSE = 2;
const TAG_NUMBER = 0;
const TAG_STRING = 1;
const TAG_TRUE = 2;
const TAG_FALSE = 3;
const ITEM_IS_CANDIDATE = 0;
const ITEM_INLINE = 1;
const HAS_FEATURES = 1;
const HAS_SCORE = 2;

class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  /** Feature names come in the same order for every candidate: the k-th name is checked first. */
  private readonly recentNames: string[] = [];
  private readonly recentRefs: number[] = [];

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

/** Reused part writers: encoding is synchronous, and `finish` copies the result out. */
const scratch = {
  out: new ByteWriter(1 << 16),
  table: new ByteWriter(1 << 12),
  rest: new ByteWriter(1 << 12),
  candidates: new ByteWriter(1 << 12),
  features: new ByteWriter(1 << 14),
  slots: new ByteWriter(1 << 16),
};

export function encodeRecord(record: DecisionRecord): Uint8Array {
  const strings = new StringTable();
  const { candidates, slots } = record;
  // Placeholders keep the record's key order through JSON (decode puts the parts back in place): a spread
  // keeps every key where it was. A shallow copy and the native stringify without a replacer cost half of a
  // replacer function, which V8 calls for every key of the context and profile too.
  const restJson = JSON.stringify({ ...record, candidates: 0, slots: 0 });
  const { out, table, rest, candidates: cands, features, slots: slotsPart } = scratch;
  for (const w of [out, table, rest, cands, features, slotsPart]) w.clear();
  if (!writeCandidates(candidates, strings, cands, features)) {
    cands.clear();
    features.clear();
    cands.u8(JSON_MODE);
    cands.string(JSON.stringify(candidates));
  }
  if (!writeSlots(slots, candidates, slotsPart)) {
    slotsPart.clear();
    slotsPart.u8(JSON_MODE);
    slotsPart.string(JSON.stringify(slots));
  }
  out.u8(MAGIC);
  out.u8(VERSION);
  table.varint(strings.list.length);
  for (const s of strings.list) table.string(s);
  out.section(table);
  rest.string(restJson);
  out.section(rest);
  out.section(cands);
  out.section(features);
  out.section(slotsPart);
  return out.finish();
}

/** Candidates in the binary layout; false (nothing usable written) when one has another shape. */
function writeCandidates(
  candidates: readonly LoggedCandidate[],
  strings: StringTable,
  part: ByteWriter,
  features: ByteWriter,
): boolean {
  part.u8(BINARY);
  part.varint(candidates.length);
  for (const c of candidates) {
    if (typeof c.id !== "string") return false;
    part.string(c.id);
  }
  for (const c of candidates) {
    const f = c.features;
    const score = c.score;
    let keys = 0;
    for (const _ in c) keys++;
    // Exactly id, and features/score when set: anything else (extra or undefined-valued keys) is JSON.
    if (keys !== 1 + (f === undefined ? 0 : 1) + (score === undefined ? 0 : 1)) return false;
    if (score !== undefined && typeof score !== "number") return false;
    part.u8((f === undefined ? 0 : HAS_FEATURES) | (score === undefined ? 0 : HAS_SCORE));
    if (score !== undefined) part.f64(score);
    if (f !== undefined && !writeFeatures(f, strings, features)) return false;
  }
  return true;
}

function writeFeatures(f: Record<string, FeatureValue>, strings: StringTable, out: ByteWriter): boolean {
  if (typeof f !== "object" || f === null || Array.isArray(f)) return false;
  let m = 0;
  for (const _ in f) m++;
  // Room for every triple at once (name ref ≤ 8, tag 1, value ≤ 8 bytes): one bounds check a candidate.
  out.reserve(8 + m * 17);
  out.varintUnchecked(m);
  let k = 0;
  for (const name in f) {
    const value = f[name];
    out.varintUnchecked(strings.name(name, k++));
    if (typeof value === "number") {
      out.u8Unchecked(TAG_NUMBER);
      out.f64Unchecked(value);
    } else if (typeof value === "string") {
      out.u8Unchecked(TAG_STRING);
      out.varintUnchecked(strings.ref(value));
    } else if (typeof value === "boolean") out.u8Unchecked(value ? TAG_TRUE : TAG_FALSE);
    else return false;
  }
  return true;
}

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Slots in the binary layout; false when one has another shape. */
function writeSlots(slots: readonly LoggedSlot[], candidates: readonly LoggedCandidate[], part: ByteWriter): boolean {
  part.u8(BINARY);
  part.varint(slots.length);
  for (const s of slots) {
    const p = s.probabilities as unknown;
    let keys = 0;
    for (const _ in s) keys++;
    if (keys !== (p === undefined ? 4 : 5)) return false;
    if (!isIndex(s.position) || !isIndex(s.index) || typeof s.itemId !== "string") return false;
    if (typeof s.propensity !== "number") return false;
    if (p !== undefined && !Array.isArray(p)) return false;
    part.varint(s.position);
    part.varint(s.index);
    if (candidates[s.index]?.id === s.itemId) part.u8(ITEM_IS_CANDIDATE);
    else {
      part.u8(ITEM_INLINE);
      part.string(s.itemId);
    }
    part.f64(s.propensity);
    if (!writeProbabilities(p as readonly unknown[] | undefined, part)) return false;
  }
  return true;
}

function writeProbabilities(p: readonly unknown[] | undefined, part: ByteWriter): boolean {
  if (p === undefined) {
    part.u8(PROBS_ABSENT);
    return true;
  }
  // One pass: check, count and copy into the Float64 scratch that a dense distribution is written from.
  const n = p.length;
  const values = scratchValues(n);
  let nonZero = 0;
  for (let j = 0; j < n; j++) {
    const v = p[j];
    if (typeof v !== "number") return false;
    values[j] = v;
    // -0 counts as non-zero: it must round-trip bit for bit.
    if (v !== 0 || 1 / v < 0) nonZero++;
  }
  // Sparse costs ~9-10 bytes an entry against 8 dense: worth it below ~3/4 filled.
  const sparse = nonZero * 4 < n * 3;
  part.u8(sparse ? PROBS_SPARSE : PROBS_DENSE);
  part.varint(n);
  if (!sparse) {
    part.f64Array(values, n);
    return true;
  }
  part.varint(nonZero);
  for (let j = 0; j < p.length; j++) {
    const v = p[j] as number;
    if (v === 0 && 1 / v > 0) continue;
    part.varint(j);
    part.f64(v);
  }
  return true;
}

let scratchF64 = new Float64Array(1024);

function scratchValues(n: number): Float64Array {
  if (scratchF64.length < n) scratchF64 = new Float64Array(Math.max(n, scratchF64.length * 2));
  return scratchF64;
}

/** Which parts to decode: the log writer needs no candidate features, reward classification no distributions. */
export interface DecodeParts {
  candidateFeatures?: boolean;
  probabilities?: boolean;
}

export function decodeRecord(bytes: Uint8Array, parts: DecodeParts = {}): DecisionRecord {
  const r = new ByteReader(bytes);
  if (r.u8() !== MAGIC) throw new Error("decision record: not a compact record");
  const version = r.u8();
  if (version !== VERSION) throw new Error(`decision record: unknown version ${version}`);
  const table = r.section();
  const strings = new Array<string>(table.varint());
  for (let i = 0; i < strings.length; i++) strings[i] = table.string();
  const record = JSON.parse(r.section().string()) as DecisionRecord;
  const candidates = r.section();
  const features = parts.candidateFeatures === false ? undefined : r.section();
  if (!features) r.skipSection();
  record.candidates = readCandidates(candidates, features, strings);
  record.slots = readSlots(r.section(), record.candidates, parts.probabilities !== false);
  return record;
}

function readCandidates(part: ByteReader, features: ByteReader | undefined, strings: string[]): LoggedCandidate[] {
  if (part.u8() === JSON_MODE) return JSON.parse(part.string()) as LoggedCandidate[];
  const n = part.varint();
  const out = new Array<LoggedCandidate>(n);
  for (let i = 0; i < n; i++) out[i] = { id: part.string() };
  for (let i = 0; i < n; i++) {
    const flags = part.u8();
    const c = out[i] as LoggedCandidate;
    // Key order as rank builds candidates: id, features, score.
    if (flags & HAS_FEATURES && features) c.features = readFeatures(features, strings);
    if (flags & HAS_SCORE) c.score = part.f64();
  }
  return out;
}

function readFeatures(part: ByteReader, strings: string[]): Record<string, FeatureValue> {
  const m = part.varint();
  const out: Record<string, FeatureValue> = {};
  for (let k = 0; k < m; k++) {
    const name = strings[part.varint()] as string;
    const tag = part.u8();
    const value =
      tag === TAG_NUMBER ? part.f64() : tag === TAG_STRING ? (strings[part.varint()] as string) : tag === TAG_TRUE;
    // An own "__proto__" key (JSON-born maps have them) must stay data, not set the prototype.
    if (name === "__proto__")
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
  }
  return out;
}

function readSlots(part: ByteReader, candidates: LoggedCandidate[], withProbabilities: boolean): LoggedSlot[] {
  if (part.u8() === JSON_MODE) return JSON.parse(part.string()) as LoggedSlot[];
  const n = part.varint();
  const out = new Array<LoggedSlot>(n);
  for (let i = 0; i < n; i++) {
    const position = part.varint();
    const index = part.varint();
    const itemId = part.u8() === ITEM_IS_CANDIDATE ? (candidates[index] as LoggedCandidate).id : part.string();
    const propensity = part.f64();
    const slot = { position, itemId, index, propensity } as LoggedSlot;
    const probabilities = readProbabilities(part, withProbabilities);
    if (probabilities) slot.probabilities = probabilities;
    out[i] = slot;
  }
  return out;
}

function readProbabilities(part: ByteReader, keep: boolean): number[] | undefined {
  const mode = part.u8();
  if (mode === PROBS_ABSENT) return undefined;
  const length = part.varint();
  if (mode === PROBS_DENSE) {
    if (!keep) {
      part.at += length * 8;
      return undefined;
    }
    const out = new Array<number>(length);
    for (let j = 0; j < length; j++) out[j] = part.f64();
    return out;
  }
  const nonZero = part.varint();
  const out = keep ? new Array<number>(length).fill(0) : undefined;
  for (let k = 0; k < nonZero; k++) {
    const j = part.varint();
    const v = part.f64();
    if (out) out[j] = v;
  }
  return out;
}
