import type { FeatureMap } from "../core/types.js";

/**
 * The default cap on open windows' estimated bytes (`rewards.maxPendingBytes`). 128 MiB, down from 256, for the
 * 1.5 GiB a process at saturation may take (issue 12's soak): the windows are the largest live holder (256 of the
 * ~330 MiB live at the end of the last soak), and V8 kept ~3.6× the live heap reserved there (1,125 MiB heap
 * total against at most 313 MiB in use after a collection), so a window byte costs several bytes of RSS. At 576
 * decisions/s, 128 MiB holds ~100k windows: about 3 minutes of a 10-minute window before the oldest close early
 * (learned with what they have, counted and logged); a server with memory to spare raises it.
 */
export const DEFAULT_MAX_PENDING_BYTES = 128 * 1024 * 1024;

/**
 * The heap an open reward window keeps alive (app/pending-window.ts), estimated from V8's object layout on 64-bit Node without pointer compression:
 * an object is a 24-byte header plus 8 bytes a field; an array 48 bytes plus 8 an element; a Float64Array
 * ~120 bytes (the typed array, its ArrayBuffer and the buffer's extension) plus its backing store; a double
 * that is not a small integer a 16-byte HeapNumber; a string 16 bytes plus its characters, 8-aligned.
 * Calibrated against the measured heap of real windows (bench/learning-memory.bench.ts and
 * learning-bytes.test.ts, `--expose-gc`): `rewards.maxPendingBytes` is enforced on this estimate. The context
 * object is the request's own and counted whole; catalog feature objects are shared, so not counted.
 */
const OBJECT = 24;
const FIELD = 8;
const ARRAY = 48;
const HEAP_NUMBER = 16;
const TYPED_ARRAY = 120;
/** A Map entry (key, value, chain) with the table's growth slack, on average. */
const MAP_ENTRY = 48;
/** The window object (15 fields) and its Map entry. */
const FIXED = MAP_ENTRY + OBJECT + 15 * FIELD + 3 * HEAP_NUMBER;

/** What `pendingWindowBytes` reads of a window (app/pending-window.ts). */
interface WindowShape {
  decisionId: string;
  context: FeatureMap;
  profile: FeatureMap | undefined;
  itemIds: readonly string[];
  overlays: readonly (readonly string[] | FeatureMap | undefined)[];
  numbers: Float64Array;
}

/** `shared(id)`: the id string is the learner's interned copy (app/pending-window.ts), held once for all windows. */
export function pendingWindowBytes(w: WindowShape, shared: (id: string) => boolean = () => false): number {
  const k = w.itemIds.length;
  let bytes = FIXED + stringBytes(w.decisionId) + 3 * (ARRAY + k * FIELD) + TYPED_ARRAY + w.numbers.byteLength;
  for (const id of w.itemIds) if (!shared(id)) bytes += stringBytes(id);
  bytes += featureMapBytes(w.context) + featureMapBytes(w.profile);
  for (const overlay of w.overlays)
    if (overlay && !Array.isArray(overlay)) bytes += featureMapBytes(overlay as FeatureMap);
  return bytes;
}

function stringBytes(s: string): number {
  return (16 + s.length + 7) & ~7;
}

function valueBytes(v: unknown): number {
  if (typeof v === "string") return stringBytes(v);
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 0 : HEAP_NUMBER;
  return 0;
}

function featureMapBytes(map: FeatureMap | undefined): number {
  if (!map) return 0;
  let bytes = OBJECT;
  for (const key in map) bytes += FIELD + valueBytes(map[key]);
  return bytes;
}
