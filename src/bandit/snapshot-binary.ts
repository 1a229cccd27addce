/**
 * Policy snapshots as bytes (format "LWS" 1), the form the SQLite policy store writes; the JSON of
 * `snapshotJson` (base64 inside JSON) still reads everywhere. Why: the default policy's JSON is a single
 * text of ~17 MB at a few hundred arms (each arm's 64×64 covariance as the full matrix in base64: 4/3 of its
 * bytes, twice the values a symmetric matrix needs), and every byte of it is written by the log writer's
 * thread that each request's acknowledgement waits on (issue 12).
 *
 * Layout (little-endian):
 *   "LWS" 0x01 · u32 header length H · H bytes of header JSON (UTF-8) · zero padding to a multiple of 8 ·
 *   the arrays region: Float64 values, one array after another.
 * The header is the snapshot as JSON with every snapshot array (an F64Field, or its `{ f64, symmetric }` form
 * after a structured clone) replaced by `{ "\u0000f64": [offset, length], "sym": d }` (offset and length in
 * doubles; `sym` only for a symmetric matrix stored as its packed upper triangle, packed-symmetric.ts). The
 * NUL in the key keeps it apart from any key a snapshot's own data could hold. Decoding gives those arrays
 * back as `{ f64, symmetric }`, which every policy's restore reads (snapshot-codec.ts `decodeF64`).
 */
const MAGIC = [0x4c, 0x57, 0x53]; // "LWS"
const FORMAT = 1;
const PREFIX_BYTES = 8;
const ARRAY_KEY = "\u0000f64";

/** Whether `bytes` hold a binary snapshot (else they are the older JSON text). */
export function isBinarySnapshot(bytes: Uint8Array): boolean {
  return bytes.length >= PREFIX_BYTES && bytes[0] === MAGIC[0] && bytes[1] === MAGIC[1] && bytes[2] === MAGIC[2];
}

interface ArrayData {
  readonly f64: Float64Array;
  readonly symmetric?: number;
}

function isArrayData(v: unknown): v is ArrayData {
  return typeof v === "object" && v !== null && (v as { f64?: unknown }).f64 instanceof Float64Array;
}

/**
 * The snapshot's bytes, cut into parts of at most `partBytes` each (every part owning its buffer, so each can
 * be transferred); their concatenation is the snapshot. One part when `partBytes` is omitted.
 */
export function encodeSnapshotBinary(snapshot: unknown, partBytes = Number.POSITIVE_INFINITY): Uint8Array[] {
  const placement: Placement = { arrays: [], doubles: 0 };
  const header = JSON.stringify(withPlacedArrays(snapshot, placement));
  const { arrays, doubles } = placement;
  const head = Buffer.from(header, "utf8");
  const region = align8(PREFIX_BYTES + head.length);
  const out = new Uint8Array(region + doubles * 8);
  out.set(MAGIC);
  out[3] = FORMAT;
  new DataView(out.buffer).setUint32(4, head.length, true);
  out.set(head, PREFIX_BYTES);
  const values = new Float64Array(out.buffer, region, doubles);
  let at = 0;
  for (const a of arrays) {
    values.set(a.f64, at);
    at += a.f64.length;
  }
  if (!LITTLE_ENDIAN) swapDoubles(out.subarray(region));
  return cut(out, partBytes);
}

/** The arrays a snapshot's header places, in order, and how many doubles they hold. */
interface Placement {
  arrays: ArrayData[];
  doubles: number;
}

/**
 * A copy of `value` with each array (ArrayData) replaced by its place in the arrays region, in the order
 * JSON.stringify meets them. A walk of its own rather than a JSON.stringify replacer: JSON.stringify calls an
 * F64Field's `toJSON` (its base64, of the full matrix for a packed one) before a replacer sees the field, which
 * at the default policy's 2,000 arms was ~50 MB of base64 built and thrown away per snapshot.
 */
function withPlacedArrays(value: unknown, placement: Placement): unknown {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
  if (isArrayData(value)) {
    placement.arrays.push(value);
    const at = placement.doubles;
    placement.doubles += value.f64.length;
    return { [ARRAY_KEY]: [at, value.f64.length], ...(value.symmetric === undefined ? {} : { sym: value.symmetric }) };
  }
  if (Array.isArray(value)) return value.map((v) => withPlacedArrays(v, placement));
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value; // serialized as before
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = withPlacedArrays((value as Record<string, unknown>)[key], placement);
  return out;
}

/** The snapshot `encodeSnapshotBinary` wrote, its arrays as `{ f64, symmetric }` over one fresh buffer. */
export function decodeSnapshotBinary<T = unknown>(bytes: Uint8Array): T {
  if (!isBinarySnapshot(bytes)) throw new Error("not a binary policy snapshot (no LWS header)");
  if (bytes[3] !== FORMAT) throw new Error(`binary policy snapshot format ${bytes[3]} is not readable here`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = view.getUint32(4, true);
  const region = align8(PREFIX_BYTES + headLength);
  if (region > bytes.length || (bytes.length - region) % 8 !== 0) throw new Error("truncated binary policy snapshot");
  // One copy into an aligned buffer of its own: SQLite's and the network's buffers may start anywhere (and a
  // Buffer's `slice` is a view, not a copy: hence the constructor).
  const copied = new Uint8Array(bytes.subarray(region));
  if (!LITTLE_ENDIAN) swapDoubles(copied);
  const values = new Float64Array(copied.buffer, 0, copied.byteLength / 8);
  const header = Buffer.from(bytes.buffer, bytes.byteOffset + PREFIX_BYTES, headLength).toString("utf8");
  return JSON.parse(header, (_key, value: unknown) => {
    if (typeof value !== "object" || value === null || !(ARRAY_KEY in value)) return value;
    const [offset, length] = (value as Record<string, [number, number]>)[ARRAY_KEY] as [number, number];
    if (offset + length > values.length) throw new Error("binary policy snapshot array out of range");
    const sym = (value as { sym?: number }).sym;
    const f64 = values.subarray(offset, offset + length);
    return sym === undefined ? { f64 } : { f64, symmetric: sym };
  }) as T;
}

/**
 * Concatenated parts (as stored in pieces: sqlite/policy-store.ts), in an array of their own: not `Buffer.concat`,
 * whose small results come from Node's pool, which a worker cannot transfer (Node 21+ throws).
 */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function cut(bytes: Uint8Array, partBytes: number): Uint8Array[] {
  if (bytes.length <= partBytes) return [bytes];
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += partBytes) parts.push(bytes.slice(at, at + partBytes));
  return parts;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

/** Reverses each 8-byte group: the format is little-endian whatever the host. */
function swapDoubles(bytes: Uint8Array): void {
  for (let i = 0; i + 8 <= bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
}
