import type { PolicyInput } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";

/**
 * The heap an open reward window keeps alive (app/learning.ts `Pending`), estimated from V8's object layout on
 * 64-bit Node without pointer compression: an object is a 24-byte header (map, properties, elements) plus 8 bytes
 * a field; an array 48 bytes (JSArray and its backing store's header) plus 8 an element; a double that is not a
 * small integer is a 16-byte HeapNumber; a string 16 bytes plus its characters, 8-aligned. Calibrated against
 * the measured heap of real windows (bench/learning-memory.bench.ts, `--expose-gc`): `rewards.maxPendingBytes`
 * is enforced on this estimate, so it must not fall far below the truth. Feature maps shared between windows
 * (a catalog item's features) are counted each time: the cap errs towards closing early.
 */
const OBJECT = 24;
const FIELD = 8;
const ARRAY = 48;
const HEAP_NUMBER = 16;
/** A Map entry (key, value, chain) with the table's growth slack, on average. */
const MAP_ENTRY = 48;
/** Objects per window whose layout is fixed: Pending (9 fields), WindowState (4), input (3), rewardIds ([]). */
const FIXED = MAP_ENTRY + OBJECT + 9 * FIELD + OBJECT + 4 * FIELD + OBJECT + 3 * FIELD + ARRAY + 2 * HEAP_NUMBER;
/** Per shown slot: a SlotState (5 fields, a HeapNumber value), its pointer, its propensity and its candidate's pointer. */
const PER_SLOT = OBJECT + 5 * FIELD + HEAP_NUMBER + 3 * FIELD;

export function pendingEntryBytes(decisionId: string, input: PolicyInput, slots: number): number {
  let bytes = FIXED + 3 * ARRAY + stringBytes(decisionId) + slots * PER_SLOT;
  bytes += featureMapBytes(input.context) + featureMapBytes(input.profile);
  for (const c of input.candidates) {
    bytes += OBJECT + FIELD * (c.score === undefined ? 2 : 3) + stringBytes(c.id) + featureMapBytes(c.features);
    if (c.score !== undefined) bytes += valueBytes(c.score);
  }
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
