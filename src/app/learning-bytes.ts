import type { FeatureMap } from "../core/types.js";

/**
 * The default cap on open windows' estimated bytes (`rewards.maxPendingBytes`): 48 MiB, ~52k packed windows
 * (app/pending-window.ts: ~920 B a window in the soak). A 10-minute window stays whole up to ~87 decisions/s
 * sustained per process; above that the oldest windows close early, after 52k / rate seconds (~85 s at the soak's
 * ~600/s), learned with the rewards they have (counted, logged); later rewards are still logged (OPE, warm start
 * and a replay see them), only online learning misses them. A server with memory to spare, or whose rewards come
 * late, raises it (with `memory.budget`, docs/operations.md).
 * Why 48 and not 128 (stop 25): at saturation the windows are what grows, and the policy only starts learning
 * (its arms' posteriors fill, ~70-100 MiB of typed arrays for the soak's 2,000 arms, and V8's reserve grows with
 * learning's garbage) once windows close: RSS is flat only from ~60-90 s after the cap binds. With 128 MiB that was
 * at ~150-320 s of the 6-minute soak, inside its last 4 minutes (+47-90 %); a soak whose cap bound at ~60 s
 * (24 MiB at the loaded machine's 308 req/s, the time 48 MiB binds at ~650 req/s) grew +12.3 % over them.
 */
export const DEFAULT_MAX_PENDING_BYTES = 48 * 1024 * 1024;

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
