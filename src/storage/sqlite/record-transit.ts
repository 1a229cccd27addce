import { ByteReader, ByteWriter } from "./byte-io.js";
import { BINARY, ITEM_IS_CANDIDATE, MAGIC, TRANSIT_MAGIC, VERSION } from "./record-codec.js";
import { readDense, readProbabilitiesInto, writeProbabilities } from "./record-probabilities.js";

/**
 * The log writer's side of the transit record (record-codec.ts `encodeRecord(record, true)`): rank's thread
 * copies each slot's distribution as it is (DENSE, a memcpy) and this thread codes it into its smallest exact
 * form (record-probabilities.ts), so the stored bytes are exactly those `encodeRecord(record)` would have given
 * (record-transit.test.ts). Why here: finding a Thompson pool's counts and coding a palette is a third of the
 * record's encoding (~20 µs a decision of the default policy), work only the stored bytes need; the writer's
 * thread runs beside the event loop. Every section but the slots is copied through unchanged.
 */
const SECTIONS_BEFORE_SLOTS = 5; // head, strings, rest, candidates, features

const out = new ByteWriter(1 << 14);
const slots = new ByteWriter(1 << 13);

/** The bytes to store for `bytes`: a transit record coded, any other record as it is. */
export function storedRecord(bytes: Uint8Array): Uint8Array {
  if (bytes[0] !== TRANSIT_MAGIC) return bytes;
  const r = new ByteReader(bytes);
  r.u8();
  if (r.u8() !== VERSION) throw new Error("decision record: a transit record of another version");
  out.clear();
  out.u8(MAGIC);
  out.u8(VERSION);
  const start = r.at;
  for (let i = 0; i < SECTIONS_BEFORE_SLOTS; i++) r.skipSection();
  r.copyRange(start, r.at, out);
  const part = r.section();
  slots.clear();
  codeSlots(part, slots);
  out.section(slots);
  return out.finish();
}

/** Copies the slots section, coding each DENSE distribution as `writeProbabilities` does. */
function codeSlots(part: ByteReader, into: ByteWriter): void {
  const start = part.at;
  if (part.u8() !== BINARY) {
    part.copyRange(start, part.end, into); // JSON slots: no distribution was left to code
    return;
  }
  const n = part.varint();
  into.u8(BINARY);
  into.varint(n);
  for (let i = 0; i < n; i++) {
    const from = part.at;
    part.varint(); // position
    part.varint(); // index
    if (part.u8() !== ITEM_IS_CANDIDATE) part.skipString();
    part.at += 8; // propensity
    part.copyRange(from, part.at, into);
    const dense = readDense(part);
    if (dense) {
      writeProbabilities(dense, into, true);
      continue;
    }
    const at = part.at;
    readProbabilitiesInto(part, undefined, 0);
    part.copyRange(at, part.at, into);
  }
}
