import type { DecisionFacts } from "../../decisions/decision-facts.js";
import { ByteReader, ByteWriter } from "./byte-io.js";
import { readProbabilitiesInto, writeProbabilities } from "./record-probabilities.js";

/**
 * Binary form of `DecisionFacts` for SQLite BLOBs: a header (magic, column count, each column's length)
 * then each column's bytes, 8-byte aligned, so decoding is one copy and typed-array views (no per-row
 * work). Columns are in the fixed order below; adding one means a new magic.
 *
 * LWF2 (written since record version 3) leaves the probabilities column empty in that layout and packs it
 * after the columns instead: its value count (8 bytes), then each slot's distribution in the decision
 * record's exact forms (record-probabilities.ts: a Thompson slot as pool counts, ~50 bytes instead of 800),
 * nothing for a slot without one (its values are NaN, as the builder fills them). The column was ~90 % of a
 * block (8 KB of ~8.7 KB a decision in `bench rank`); decoding it back is one pass at scan time, and every
 * value comes back bit for bit, so OPE reads the same numbers. LWF1 blocks are read as they are.
 */
const MAGIC_V1 = 0x3146574c; // "LWF1"
const MAGIC = 0x3246574c; // "LWF2"

type Kind = "f64" | "i32" | "u8";
type ArrayKey = Exclude<keyof DecisionFacts, "decisions">;

const COLUMNS: ReadonlyArray<readonly [ArrayKey, Kind]> = [
  ["seq", "f64"],
  ["timestamp", "f64"],
  ["windowStart", "f64"],
  ["propensity", "f64"],
  ["probabilities", "f64"],
  ["rewardValue", "f64"],
  ["policy", "i32"],
  ["policyVersion", "i32"],
  ["slotStart", "i32"],
  ["candidateStart", "i32"],
  ["candidates", "i32"],
  ["position", "i32"],
  ["action", "i32"],
  ["item", "i32"],
  ["probabilityStart", "i32"],
  ["rewardStart", "i32"],
  ["hasProbabilities", "u8"],
];

const WIDTH: Record<Kind, number> = { f64: 8, i32: 4, u8: 1 };
const align8 = (n: number) => (n + 7) & ~7;
const HEADER = align8(4 * (2 + COLUMNS.length));

/**
 * `packed`: the distributions of the slots that have one, in slot order, already in the packed forms (the
 * records' own bytes, copied by the log writer as it read them); coded from the column when absent.
 */
export function encodeFacts(f: DecisionFacts, packed: Uint8Array = packProbabilities(f)): Buffer {
  const columns = { ...f, probabilities: new Float64Array(0) };
  let size = HEADER;
  for (const [key, kind] of COLUMNS) size += align8(columns[key].length * WIDTH[kind]);
  const out = Buffer.alloc(size + 8 + packed.length);
  const header = new Uint32Array(out.buffer, out.byteOffset, 2 + COLUMNS.length);
  header[0] = MAGIC;
  header[1] = COLUMNS.length;
  let at = HEADER;
  COLUMNS.forEach(([key, kind], c) => {
    const col = columns[key];
    header[2 + c] = col.length;
    out.set(new Uint8Array(col.buffer, col.byteOffset, col.length * WIDTH[kind]), at);
    at += align8(col.length * WIDTH[kind]);
  });
  out.writeDoubleLE(f.probabilities.length, at);
  out.set(packed, at + 8);
  return out;
}

function packProbabilities(f: DecisionFacts): Uint8Array {
  const out = new ByteWriter(1 << 16);
  const { probabilities, probabilityStart, hasProbabilities } = f;
  for (let s = 0; s < hasProbabilities.length; s++) {
    if (hasProbabilities[s] === 0) continue;
    const slot = probabilities.subarray(probabilityStart[s] as number, probabilityStart[s + 1] as number);
    writeProbabilities(slot, out, true);
  }
  return out.finish();
}

export function decodeFacts(blob: Uint8Array): DecisionFacts {
  // Every column is a view on one 8-aligned buffer: the blob itself when aligned, else one copy.
  let bytes = blob;
  if (blob.byteOffset % 8 !== 0) {
    bytes = new Uint8Array(blob.length);
    bytes.set(blob);
  }
  const base = bytes.byteOffset;
  const header = new Uint32Array(bytes.buffer, base, 2 + COLUMNS.length);
  const magic = header[0];
  if ((magic !== MAGIC && magic !== MAGIC_V1) || header[1] !== COLUMNS.length)
    throw new Error("decision facts: unknown block format");
  const out: Record<string, Float64Array | Int32Array | Uint8Array> = {};
  let at = HEADER;
  COLUMNS.forEach(([key, kind], c) => {
    const n = header[2 + c] as number;
    if (kind === "f64") out[key] = new Float64Array(bytes.buffer, base + at, n);
    else if (kind === "i32") out[key] = new Int32Array(bytes.buffer, base + at, n);
    else out[key] = new Uint8Array(bytes.buffer, base + at, n);
    at += align8(n * WIDTH[kind]);
  });
  const facts = out as unknown as DecisionFacts;
  facts.decisions = facts.seq.length;
  if (magic === MAGIC) facts.probabilities = unpackProbabilities(facts, bytes, at);
  return facts;
}

function unpackProbabilities(f: DecisionFacts, bytes: Uint8Array, at: number): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(view.getFloat64(at, true));
  const reader = new ByteReader(bytes, at + 8);
  const { probabilityStart, hasProbabilities } = f;
  for (let s = 0; s < hasProbabilities.length; s++) {
    const start = probabilityStart[s] as number;
    const end = probabilityStart[s + 1] as number;
    if (hasProbabilities[s] === 0) out.fill(Number.NaN, start, end);
    else if (readProbabilitiesInto(reader, out, start) !== end - start)
      throw new Error("decision facts: a distribution's length disagrees with its slot");
  }
  return out;
}
