import { type FactsSlot, type FactsSource, VALUES_NOT_READ } from "../../decisions/decision-facts.js";
import type { DecisionRecord, LoggedCandidate, LoggedSlot } from "../../decisions/decision-record.js";
import { ByteReader, ByteWriter } from "./byte-io.js";
import {
  type FeatureNames,
  readCandidateId,
  readFeatures,
  StringTable,
  writeCandidateId,
  writeFeatures,
} from "./record-features.js";
import {
  peekProbabilitiesLength,
  readProbabilities,
  readProbabilitiesInto,
  writeDense,
  writeProbabilities,
} from "./record-probabilities.js";

/**
 * The compact decision record (the `decisions.record` BLOB). Everything a `DecisionRecord` holds, laid
 * out so the bulk is binary and each repeated string is stored once:
 *
 *   magic, version
 *   [head]       (version 2) the policy version as Float64: with the row's columns (time, policy id,
 *                activation) all the facts need besides candidates and slots, without the JSON
 *   [strings]    candidate feature names and string values, each once (they repeat across candidates)
 *   [rest]       JSON of the remaining fields (ids, context, profile features, policy, ...), small
 *   [candidates] mode; binary: count, ids (unique within a decision: inline; from version 3 each after the
 *                prefix it shares with the one before), flags, scores
 *   [features]   candidate features: per candidate, (name ref, tag, value) triples (record-features.ts; from
 *                version 3 names shared with the previous candidate and numbers as short exact varints)
 *   [slots]      mode; binary: position, index, item id (a flag when it is the candidate at `index`, as rank
 *                always logs), propensity (Float64) and the distribution (record-probabilities.ts: dense,
 *                sparse or, from version 2, a palette of its distinct values, from version 3 a Thompson pool's
 *                counts with its share and base)
 *
 * Each bracket is a length-prefixed section, so readers that need only some parts skip the rest: the log
 * writer's facts read head, candidate ids and slots (`readFactsSource`), the reward join only slot positions
 * and item ids (`readShownSlots`); the whole record is decoded for export, OPE and learning. Probabilities
 * are Float64: propensities and distributions round-trip bit for bit. A candidate list or slot list that does
 * not fit the binary shape (extra fields, non-number probabilities in a migrated JSON record) is stored as
 * JSON in its section instead, so any record round-trips exactly. Version 1 and 2 records (no head, no palette;
 * Float64 feature numbers) are read as they are: no migration rewrites the log.
 */
export const MAGIC = 0xd5;
/**
 * A transit record (`encodeRecord(record, true)`): the same layout, but each slot's Float64Array distribution
 * in the DENSE form as it is, not yet coded into its smallest form. Never stored: the log writer's thread codes
 * it (record-transit.ts `storedRecord`) into exactly the bytes `encodeRecord(record)` gives.
 */
export const TRANSIT_MAGIC = 0xd6;
export const VERSION = 3;
export const BINARY = 0;
export const JSON_MODE = 1;
export const ITEM_IS_CANDIDATE = 0;
const ITEM_INLINE = 1;
const HAS_FEATURES = 1;
const HAS_SCORE = 2;

/** Reused part writers: encoding is synchronous, and `finish` copies the result out. */
const scratch = {
  out: new ByteWriter(1 << 16),
  head: new ByteWriter(64),
  table: new ByteWriter(1 << 12),
  rest: new ByteWriter(1 << 12),
  candidates: new ByteWriter(1 << 12),
  features: new ByteWriter(1 << 14),
  slots: new ByteWriter(1 << 16),
};

/**
 * The record's bytes; `transit`: the transit form (TRANSIT_MAGIC), which leaves the coding of the distributions
 * (a third of the encoding's CPU for the default policy) to the log writer's thread.
 */
export function encodeRecord(record: DecisionRecord, transit = false): Uint8Array {
  const strings = new StringTable();
  const { candidates, slots } = record;
  // Placeholders keep the record's key order through JSON (decode puts the parts back in place): a spread
  // keeps every key where it was. A shallow copy and the native stringify without a replacer cost half of a
  // replacer function, which V8 calls for every key of the context and profile too.
  const restJson = JSON.stringify({ ...record, candidates: 0, slots: 0 });
  const { out, head, table, rest, candidates: cands, features, slots: slotsPart } = scratch;
  for (const w of [out, head, table, rest, cands, features, slotsPart]) w.clear();
  if (!writeCandidates(candidates, strings, cands, features)) {
    cands.clear();
    features.clear();
    cands.u8(JSON_MODE);
    cands.string(JSON.stringify(candidates));
  }
  if (!writeSlots(slots, candidates, slotsPart, transit)) {
    slotsPart.clear();
    slotsPart.u8(JSON_MODE);
    slotsPart.string(JSON.stringify(slots));
  }
  out.u8(transit ? TRANSIT_MAGIC : MAGIC);
  out.u8(VERSION);
  head.f64(Number(record.policy?.version));
  out.section(head);
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
  let previous = "";
  for (const c of candidates) {
    if (typeof c.id !== "string") return false;
    writeCandidateId(c.id, previous, part);
    previous = c.id;
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

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Slots in the binary layout; false when one has another shape. */
function writeSlots(
  slots: readonly LoggedSlot[],
  candidates: readonly LoggedCandidate[],
  part: ByteWriter,
  transit: boolean,
): boolean {
  part.u8(BINARY);
  part.varint(slots.length);
  for (const s of slots) {
    const p = s.probabilities as unknown;
    let keys = 0;
    for (const _ in s) keys++;
    if (keys !== (p === undefined ? 4 : 5)) return false;
    if (!isIndex(s.position) || !isIndex(s.index) || typeof s.itemId !== "string") return false;
    if (typeof s.propensity !== "number") return false;
    if (p !== undefined && !Array.isArray(p) && !(p instanceof Float64Array)) return false;
    part.varint(s.position);
    part.varint(s.index);
    if (candidates[s.index]?.id === s.itemId) part.u8(ITEM_IS_CANDIDATE);
    else {
      part.u8(ITEM_INLINE);
      part.string(s.itemId);
    }
    part.f64(s.propensity);
    if (transit && p instanceof Float64Array) writeDense(p, part);
    else if (!writeProbabilities(p as ArrayLike<unknown> | undefined, part, true)) return false;
  }
  return true;
}

/** Which parts to decode: the log writer needs no candidate features, reward classification no distributions. */
export interface DecodeParts {
  candidateFeatures?: boolean;
  probabilities?: boolean;
}

export function decodeRecord(bytes: Uint8Array, parts: DecodeParts = {}): DecisionRecord {
  const at = sectionsOf(bytes);
  const strings = new Array<string>(at.strings.varint());
  for (let i = 0; i < strings.length; i++) strings[i] = at.strings.string();
  const record = JSON.parse(at.rest.string()) as DecisionRecord;
  record.candidates = readCandidates(
    at.candidates,
    parts.candidateFeatures === false ? undefined : at.features,
    strings,
    at.version,
  );
  record.slots = readSlots(at.slots, record.candidates, parts.probabilities !== false);
  return record;
}

/** A record's sections, located (lengths read) but not decoded. */
interface Sections {
  version: number;
  /** Version 2 on. */
  head: ByteReader | undefined;
  strings: ByteReader;
  rest: ByteReader;
  candidates: ByteReader;
  features: ByteReader;
  slots: ByteReader;
}

function sectionsOf(bytes: Uint8Array): Sections {
  const r = new ByteReader(bytes);
  if (r.u8() !== MAGIC) throw new Error("decision record: not a compact record");
  const version = r.u8();
  if (version < 1 || version > VERSION) throw new Error(`decision record: unknown version ${version}`);
  const head = version >= 2 ? r.section() : undefined;
  const strings = r.section();
  const rest = r.section();
  const candidates = r.section();
  const features = r.section();
  return { version, head, strings, rest, candidates, features, slots: r.section() };
}

function readCandidates(
  part: ByteReader,
  features: ByteReader | undefined,
  strings: string[],
  version: number,
): LoggedCandidate[] {
  if (part.u8() === JSON_MODE) return JSON.parse(part.string()) as LoggedCandidate[];
  const n = part.varint();
  const out = new Array<LoggedCandidate>(n);
  let id = "";
  for (let i = 0; i < n; i++) {
    id = readCandidateId(part, id, version);
    out[i] = { id };
  }
  const names: FeatureNames = { names: [] };
  for (let i = 0; i < n; i++) {
    const flags = part.u8();
    const c = out[i] as LoggedCandidate;
    // Key order as rank builds candidates: id, features, score.
    if (flags & HAS_FEATURES && features) c.features = readFeatures(features, strings, version, names);
    if (flags & HAS_SCORE) c.score = part.f64();
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

/** A decision's columns as the log's row holds them (the record's own copy of activation may be stale). */
export interface RecordColumns {
  timestamp: number;
  policyId: string;
  activated: boolean;
  activatedAt: number | null;
}

/**
 * What the decision facts need (decision-facts.ts `FactsSource`), read from the bytes: the head, candidate ids
 * and slots with their distributions as Float64 values; the JSON part, the string table and candidate features
 * are skipped. A version 1 record (no head) is decoded without candidate features instead.
 * `values` false (with `encoded`): a distribution copied to `encoded` as the facts hold it is not decoded
 * (`VALUES_NOT_READ`); one that turns `encoded.complete` false is decoded as before.
 */
export function readFactsSource(
  bytes: Uint8Array,
  columns: RecordColumns,
  encoded?: EncodedDistributions,
  values = true,
): FactsSource {
  const at = sectionsOf(bytes);
  const activation = columns.activatedAt === null ? {} : { activatedAt: columns.activatedAt };
  if (!at.head) {
    if (encoded) encoded.complete = false;
    const record = decodeRecord(bytes, { candidateFeatures: false });
    return { ...record, activated: columns.activated, ...activation };
  }
  const candidates = readCandidates(at.candidates, undefined, [], at.version);
  const policy = { id: columns.policyId, version: at.head.f64() };
  const slots = readFactSlots(at.slots, candidates, encoded, values || !encoded);
  return { timestamp: columns.timestamp, activated: columns.activated, ...activation, policy, candidates, slots };
}

/**
 * Where `readFactsSource` copies each distribution's bytes as the record holds them (the facts block's packed
 * column takes the same forms, facts-codec.ts: sealing then copies instead of coding them again). `complete`
 * turns false when a record's distributions could not be copied as the facts hold them (JSON slots, version 1,
 * a distribution whose length is not the candidates').
 */
export interface EncodedDistributions {
  out: ByteWriter;
  slots: number;
  complete: boolean;
}

function readFactSlots(
  part: ByteReader,
  candidates: readonly LoggedCandidate[],
  encoded: EncodedDistributions | undefined,
  values: boolean,
): FactsSlot[] {
  if (part.u8() === JSON_MODE) {
    if (encoded) encoded.complete = false;
    return JSON.parse(part.string()) as FactsSlot[];
  }
  const n = part.varint();
  const out = new Array<FactsSlot>(n);
  for (let i = 0; i < n; i++) {
    const position = part.varint();
    const index = part.varint();
    const itemId = part.u8() === ITEM_IS_CANDIDATE ? (candidates[index] as LoggedCandidate).id : part.string();
    const propensity = part.f64();
    const length = peekProbabilitiesLength(part);
    // The facts hold one value per candidate: a distribution of another length is cut or padded there, so
    // its values are read whatever `values` says.
    const read = values || length !== candidates.length;
    const probabilities = length < 0 ? undefined : read ? new Float64Array(length) : VALUES_NOT_READ;
    const start = part.at;
    readProbabilitiesInto(part, read ? probabilities : undefined, 0);
    if (encoded && probabilities) {
      if (length !== candidates.length) encoded.complete = false;
      part.copyRange(start, part.at, encoded.out);
      encoded.slots++;
    }
    out[i] = probabilities
      ? { position, itemId, index, propensity, probabilities }
      : { position, itemId, index, propensity };
  }
  return out;
}

/**
 * The slots a decision showed (position and item id), for joining a reward to them: the slots section and the
 * ids of the candidates they name, nothing else decoded (no JSON, no distributions, no other candidate).
 */
export function readShownSlots(bytes: Uint8Array): { position: number; itemId: string }[] {
  const at = sectionsOf(bytes);
  const part = at.slots;
  if (part.u8() === JSON_MODE) {
    return (JSON.parse(part.string()) as LoggedSlot[]).map(({ position, itemId }) => ({ position, itemId }));
  }
  const n = part.varint();
  const out = new Array<{ position: number; itemId: string }>(n);
  /** Per slot, the index of the candidate whose id it shows; -1 when the id is inline. */
  const byCandidate = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const position = part.varint();
    const index = part.varint();
    const inline = part.u8() === ITEM_INLINE;
    out[i] = { position, itemId: inline ? part.string() : "" };
    byCandidate[i] = inline ? -1 : index;
    part.at += 8; // propensity
    readProbabilitiesInto(part, undefined, 0);
  }
  const ids = candidateIdsAt(at.candidates, byCandidate, at.version);
  for (let i = 0; i < n; i++) {
    const index = byCandidate[i] as number;
    if (index >= 0) (out[i] as { itemId: string }).itemId = ids.get(index) as string;
  }
  return out;
}

/** The ids of the candidates at `indices` (negative ones ignored), the others skipped undecoded. */
function candidateIdsAt(part: ByteReader, indices: readonly number[], version: number): Map<number, string> {
  const wanted = new Set(indices.filter((i) => i >= 0));
  if (wanted.size === 0) return new Map();
  const ids = new Map<number, string>();
  if (part.u8() === JSON_MODE) {
    const all = JSON.parse(part.string()) as LoggedCandidate[];
    for (const i of wanted) ids.set(i, (all[i] as LoggedCandidate).id);
    return ids;
  }
  const n = part.varint();
  let last = -1;
  for (const i of wanted) last = Math.max(last, i);
  // From version 3 an id is read from the one before it: every id up to the last wanted is decoded.
  let id = "";
  for (let i = 0; i <= last && i < n; i++) {
    if (version >= 3) id = readCandidateId(part, id, version);
    if (wanted.has(i)) ids.set(i, version >= 3 ? id : part.string());
    else if (version < 3) part.skipString();
  }
  return ids;
}
