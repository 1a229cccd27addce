import { pack, packedOffsets, unpack } from "./packed-symmetric.js";

/**
 * Typed arrays in snapshots as base64 of their little-endian bytes: exact (no decimal round trip of
 * doubles), about 3x smaller than JSON number lists, and JSON-safe.
 */
export function encodeF64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

/**
 * A Float64Array a snapshot holds as itself until it is serialized. A policy checkpoint used to base64 every
 * arm's matrices on the event loop inside `snapshot()` and then structured-clone the strings to the log
 * writer's thread: ~1-3 s of blocked loop for the default policy at its 2,000 arms (issue 12). Now
 * `snapshot()` only copies the arrays; `JSON.stringify` writes the same base64 string as before (`toJSON`),
 * so every stored and published snapshot keeps its format, and a store that posts the snapshot to another
 * thread transfers the arrays (`snapshotTransfer`) and writes the JSON there (`snapshotJson`).
 * Owns its array: pass a copy, never a policy's live state.
 */
export class F64Field {
  /**
   * `symmetric` = d: `f64` is the packed upper triangle of a symmetric d×d matrix (packed-symmetric.ts), a
   * plain copy of what the policy holds; serialized as the full matrix, the format snapshots always had.
   */
  constructor(
    readonly f64: Float64Array,
    readonly symmetric?: number,
  ) {}

  toJSON(): string {
    return encodeF64(fullArrayOf(this));
  }
}

/** The array a field stands for (the full matrix of a packed symmetric one). */
function fullArrayOf(field: { readonly f64: Float64Array; readonly symmetric?: number | undefined }): Float64Array {
  const d = field.symmetric;
  return d === undefined ? field.f64 : unpack(field.f64, d, packedOffsets(d));
}

/**
 * A snapshot's double array as any reader may meet it: base64 (parsed JSON), an F64Field (fresh from
 * `snapshot()`), or `{ f64 }` (an F64Field after a structured clone, which drops the class).
 */
export type F64Data = string | F64Field | { readonly f64: Float64Array; readonly symmetric?: number };

/** The doubles of `s`; a fresh array the caller owns (two restores of one snapshot never share state). */
export function decodeF64(s: F64Data): Float64Array {
  if (typeof s !== "string") return s.symmetric === undefined ? s.f64.slice() : fullArrayOf(s);
  const b = Buffer.from(s, "base64");
  const out = new Float64Array(b.byteLength / 8);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * A symmetric d×d matrix's packed upper triangle (what policies hold), from any F64Data: a binary snapshot or
 * a fresh one holds it packed already (copied), the JSON form holds the full matrix (packed here).
 */
export function decodePackedSymmetric(s: F64Data, d: number, off: Int32Array): Float64Array {
  if (typeof s !== "string" && s.symmetric === d) return s.f64.slice();
  return pack(decodeF64(s), d, off);
}

function isF64Data(v: unknown): v is { readonly f64: Float64Array; readonly symmetric?: number } {
  return typeof v === "object" && v !== null && (v as { f64?: unknown }).f64 instanceof Float64Array;
}

/**
 * A snapshot as JSON, also after it crossed threads (its F64Fields are plain `{ f64 }` objects then):
 * byte-identical to `JSON.stringify` of the snapshot as `snapshot()` returned it.
 */
export function snapshotJson(snapshot: unknown): string {
  return JSON.stringify(snapshot, (_key, value: unknown) => jsonValueOf(value));
}

/** For a JSON replacer over a snapshot that may have crossed threads: a `{ f64 }` field as its base64 string. */
export function jsonValueOf(value: unknown): unknown {
  return isF64Data(value) ? encodeF64(fullArrayOf(value)) : value;
}

/**
 * The buffers of a snapshot's F64Fields, to transfer (not copy) it to another thread. The snapshot's arrays
 * are unusable here afterwards: only for a snapshot its caller handed over. A field owns its buffer (its own
 * copy, or a view into a pool of copies the snapshot owns, sliced-snapshot.ts): each buffer is listed once.
 */
export function snapshotTransfer(snapshot: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const seen = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return;
    if (v instanceof F64Field) {
      const { buffer } = v.f64;
      if (buffer instanceof ArrayBuffer && !seen.has(buffer)) {
        seen.add(buffer);
        out.push(buffer);
      }
      return;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) visit(child);
  };
  visit(snapshot);
  return out;
}

export function encodeI32(a: Int32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

export function decodeI32(s: string): Int32Array {
  const b = Buffer.from(s, "base64");
  const out = new Int32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
