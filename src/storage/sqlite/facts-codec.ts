import type { DecisionFacts } from "../../decisions/decision-facts.js";

/**
 * Binary form of `DecisionFacts` for SQLite BLOBs: a header (magic, column count, each column's length)
 * then each column's bytes, 8-byte aligned, so decoding is one copy and typed-array views (no per-row
 * work). Columns are in the fixed order below; adding one means a new magic.
 */
const MAGIC = 0x3146574c; // "LWF1"

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

export function encodeFacts(f: DecisionFacts): Buffer {
  let size = HEADER;
  for (const [key, kind] of COLUMNS) size += align8(f[key].length * WIDTH[kind]);
  const out = Buffer.alloc(size);
  const header = new Uint32Array(out.buffer, out.byteOffset, 2 + COLUMNS.length);
  header[0] = MAGIC;
  header[1] = COLUMNS.length;
  let at = HEADER;
  COLUMNS.forEach(([key, kind], c) => {
    const col = f[key];
    header[2 + c] = col.length;
    out.set(new Uint8Array(col.buffer, col.byteOffset, col.length * WIDTH[kind]), at);
    at += align8(col.length * WIDTH[kind]);
  });
  return out;
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
  if (header[0] !== MAGIC || header[1] !== COLUMNS.length) throw new Error("decision facts: unknown block format");
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
  return facts;
}
