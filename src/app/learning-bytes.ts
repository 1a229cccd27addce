import type { FeatureMap } from "../core/types.js";

/**
 * The default cap on open windows' estimated bytes (`rewards.maxPendingBytes`). 128 MiB, down from 256, for the
 * 1.5 GiB a process at saturation may take (issue 12's soak): the windows are the largest live holder (256 of the
 * ~330 MiB live at the end of the last soak), and V8 kept ~3.6× the live heap reserved there (1,125 MiB heap
 * total against at most 313 MiB in use after a collection), so a window byte costs several bytes of RSS. Packed
 * (app/pending-window.ts: ~880 B a window measured, against ~1,290 B as an object graph), 128 MiB holds ~145k
 * windows: about 4 minutes of a 10-minute window at 576 decisions/s before the oldest close early (learned with
 * what they have, counted and logged); a server with memory to spare raises it. A packed window is one heap
 * object, so the count no longer sets the major GC's marking time; the bytes still set the heap V8 reserves.
 */
export const DEFAULT_MAX_PENDING_BYTES = 128 * 1024 * 1024;

/**
 * The heap an open reward window keeps alive (app/pending-window.ts), estimated from V8's object layout on 64-bit
 * Node without pointer compression: a window is a Float64Array view into a shared slab (~96 bytes for the view
 * plus its doubles) and its decision id (a Map key); values it is the first to hold in the packer's ref table
 * (a string, a copied feature map) add their own bytes and a table entry. An object is a 24-byte header plus 8
 * bytes a field; a double that is not a small integer a 16-byte HeapNumber; a string 16 bytes plus its
 * characters, 8-aligned. Calibrated against the measured heap of real windows (bench/learning-memory.bench.ts and
 * learning-bytes.test.ts, `--expose-gc`): `rewards.maxPendingBytes` is enforced on this estimate. Catalog
 * feature objects are shared with the catalog, so not counted.
 */
const OBJECT = 24;
const FIELD = 8;
const HEAP_NUMBER = 16;
const TYPED_ARRAY_VIEW = 96;
/** A Map entry (key, value, chain) with the table's growth slack, on average. */
const MAP_ENTRY = 48;
/**
 * What a window pays for a string feature value it holds through the packer's table: nothing of its own (the
 * string is held once for every window with that value; a unique value, e.g. a request id in the context, is
 * the exception this misses). Measured: with 16 B a string the estimate ran 1.45× the heap the windows kept.
 */
export const STRING_SHARE = 0;

/** A window's record of `doubles` doubles (the view and its share of the slab) and its entry in the loop's map. */
export function windowRecordBytes(doubles: number): number {
  return MAP_ENTRY + TYPED_ARRAY_VIEW + 8 * doubles;
}

export function stringBytes(s: string): number {
  return (16 + s.length + 7) & ~7;
}

function valueBytes(v: unknown): number {
  if (typeof v === "string") return stringBytes(v);
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 0 : HEAP_NUMBER;
  return 0;
}

export function featureMapBytes(map: FeatureMap | undefined): number {
  if (!map) return 0;
  let bytes = OBJECT;
  for (const key in map) bytes += FIELD + valueBytes(map[key]);
  return bytes;
}
