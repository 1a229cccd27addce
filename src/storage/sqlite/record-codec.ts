import type { FeatureValue } from "../../core/types.js";
import type { DecisionRecord, LoggedCandidate, LoggedSlot } from "../../decisions/decision-record.js";
import { ByteReader, ByteWriter } from "./byte-io.js";

/**
 * The compact decision record (the `decisions.record` BLOB). Everything a `DecisionRecord` holds, laid
 * out so the bulk is binary and each repeated string is stored once:
 *
 *   magic, version
 *   [strings]    every candidate id, slot item id, candidate feature name and string value, once
 *   [rest]       JSON of the remaining fields (ids, context, profile features, policy, ...), small
 *   [candidates] mode; binary: count, id refs, flags, scores
 *   [features]   candidate features: per candidate, (name ref, tag, value) triples
 *   [slots]      mode; binary: position, index, item ref, propensity (Float64) and the distribution as
 *                Float64, dense or as sparse (index, value) pairs when most entries are 0
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
const HAS_FEATURES = 1;
const HAS_SCORE = 2;

class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
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

const scratch = { main: new ByteWriter(1 << 15), part: new ByteWriter(1 << 15) };

export function encodeRecord(record: DecisionRecord): Uint8Array {
  const strings = new StringTable();
  const { candidates, slots } = record;
  // Placeholders keep the record's key order through JSON (decode puts the parts back in place).
  const restJson = JSON.stringify(record, function (this: unknown, key: string, value: unknown) {
    return this === record && (key === "candidates" || key === "slots") ? 0 : value;
  });
  const candidatesPart = new ByteWriter(256 + candidates.length * 8);
  const featuresPart = new ByteWriter(256 + candidates.length * 24);
  writeCandidates(candidates, strings, candidatesPart, featuresPart);
  const slotsPart = new ByteWriter(64 + slots.length * (16 + candidates.length * 8));
  writeSlots(slots, strings, slotsPart);
  const out = scratch.main;
  out.length = 0;
  out.u8(MAGIC);
  out.u8(VERSION);
  const table = scratch.part;
  table.length = 0;
  table.varint(strings.list.length);
  for (const s of strings.list) table.string(s);
  out.section(table);
  const restPart = new ByteWriter(restJson.length * 3 + 8);
  restPart.string(restJson);
  out.section(restPart);
  out.section(candidatesPart);
  out.section(featuresPart);
  out.section(slotsPart);
  return out.finish();
}

function binaryCandidates(candidates: readonly LoggedCandidate[]): boolean {
  for (const c of candidates) {
    for (const key in c) if (key !== "id" && key !== "features" && key !== "score") return false;
    if (typeof c.id !== "string") return false;
    if ("score" in c && typeof c.score !== "number") return false;
    if ("features" in c) {
      if (typeof c.features !== "object" || c.features === null || Array.isArray(c.features)) return false;
      for (const v of Object.values(c.features)) {
        if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean") return false;
      }
    }
  }
  return true;
}

function writeCandidates(
  candidates: readonly LoggedCandidate[],
  strings: StringTable,
  part: ByteWriter,
  features: ByteWriter,
): void {
  if (!binaryCandidates(candidates)) {
    part.u8(JSON_MODE);
    part.string(JSON.stringify(candidates));
    return;
  }
  part.u8(BINARY);
  part.varint(candidates.length);
  for (const c of candidates) part.varint(strings.ref(c.id));
  for (const c of candidates) {
    const flags = ("features" in c ? HAS_FEATURES : 0) | ("score" in c ? HAS_SCORE : 0);
    part.u8(flags);
    if (flags & HAS_SCORE) part.f64(c.score as number);
    if (!(flags & HAS_FEATURES)) continue;
    const entries = Object.entries(c.features as Record<string, FeatureValue>);
    features.varint(entries.length);
    for (const [name, value] of entries) {
      features.varint(strings.ref(name));
      if (typeof value === "number") {
        features.u8(TAG_NUMBER);
        features.f64(value);
      } else if (typeof value === "string") {
        features.u8(TAG_STRING);
        features.varint(strings.ref(value));
      } else features.u8(value ? TAG_TRUE : TAG_FALSE);
    }
  }
}

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function binarySlots(slots: readonly LoggedSlot[]): boolean {
  for (const s of slots) {
    for (const key in s) {
      if (!["position", "itemId", "index", "propensity", "probabilities"].includes(key)) return false;
    }
    if (!isIndex(s.position) || !isIndex(s.index) || typeof s.itemId !== "string") return false;
    if (typeof s.propensity !== "number") return false;
    const p = s.probabilities as unknown;
    if (p === undefined && "probabilities" in s) return false;
    if (p !== undefined && !Array.isArray(p)) return false;
    if (Array.isArray(p) && !p.every((v) => typeof v === "number")) return false;
  }
  return true;
}

function writeSlots(slots: readonly LoggedSlot[], strings: StringTable, part: ByteWriter): void {
  if (!binarySlots(slots)) {
    part.u8(JSON_MODE);
    part.string(JSON.stringify(slots));
    return;
  }
  part.u8(BINARY);
  part.varint(slots.length);
  for (const s of slots) {
    part.varint(s.position);
    part.varint(s.index);
    part.varint(strings.ref(s.itemId));
    part.f64(s.propensity);
    writeProbabilities(s.probabilities as readonly number[] | undefined, part);
  }
}

function writeProbabilities(p: readonly number[] | undefined, part: ByteWriter): void {
  if (p === undefined) {
    part.u8(PROBS_ABSENT);
    return;
  }
  let nonZero = 0;
  // Object.is: -0 is not 0 for a bit-for-bit round trip.
  for (const v of p) if (!Object.is(v, 0)) nonZero++;
  // Sparse costs ~9-10 bytes an entry against 8 dense: worth it below ~3/4 filled.
  const sparse = nonZero * 4 < p.length * 3;
  part.u8(sparse ? PROBS_SPARSE : PROBS_DENSE);
  part.varint(p.length);
  if (!sparse) {
    for (const v of p) part.f64(v);
    return;
  }
  part.varint(nonZero);
  p.forEach((v, j) => {
    if (Object.is(v, 0)) return;
    part.varint(j);
    part.f64(v);
  });
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
  record.slots = readSlots(r.section(), strings, parts.probabilities !== false);
  return record;
}

function readCandidates(part: ByteReader, features: ByteReader | undefined, strings: string[]): LoggedCandidate[] {
  if (part.u8() === JSON_MODE) return JSON.parse(part.string()) as LoggedCandidate[];
  const n = part.varint();
  const out = new Array<LoggedCandidate>(n);
  for (let i = 0; i < n; i++) out[i] = { id: strings[part.varint()] as string };
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

function readSlots(part: ByteReader, strings: string[], withProbabilities: boolean): LoggedSlot[] {
  if (part.u8() === JSON_MODE) return JSON.parse(part.string()) as LoggedSlot[];
  const n = part.varint();
  const out = new Array<LoggedSlot>(n);
  for (let i = 0; i < n; i++) {
    const position = part.varint();
    const index = part.varint();
    const itemId = strings[part.varint()] as string;
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
