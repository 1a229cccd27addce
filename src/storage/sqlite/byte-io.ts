/**
 * Little-endian byte writer/reader with LEB128 varints and UTF-8 strings: the primitives of the compact
 * decision record (record-codec.ts). Hand-written rather than a serialization library because the record
 * needs exact Float64 and per-record string tables laid out for partial decoding (skip whole sections),
 * which none of the schema-less encoders (msgpack, CBOR) give without decoding everything.
 */
const utf8 = new TextEncoder();
let scratchF64 = new Float64Array(1024);

export class ByteWriter {
  private bytes: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 4096) {
    this.bytes = new Uint8Array(initial);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `n` more bytes (callers that write several fields reserve once, then use the `*Unchecked`). */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.bytes[this.length++] = v;
  }

  /** Unsigned LEB128 for integers in [0, 2^53). */
  varint(v: number): void {
    this.reserve(8);
    this.varintUnchecked(v);
  }

  /** `varint` into room already reserved (8 bytes). */
  varintUnchecked(v: number): void {
    if (v < 0x80) {
      this.bytes[this.length++] = v;
      return;
    }
    if (v <= 0x7fffffff) {
      // 31-bit integers with integer ops: the float division and remainder below cost several times more.
      let n = v | 0;
      while (n >= 0x80) {
        this.bytes[this.length++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      this.bytes[this.length++] = n;
      return;
    }
    let n = v;
    while (n >= 0x80) {
      this.bytes[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.bytes[this.length++] = n;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  /** `u8` into room already reserved. */
  u8Unchecked(v: number): void {
    this.bytes[this.length++] = v;
  }

  /** `f64` into room already reserved. */
  f64Unchecked(v: number): void {
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  string(s: string): void {
    const n = s.length;
    this.reserve(5 + n * 3); // at most 3 UTF-8 bytes per UTF-16 unit
    if (this.shortAscii(s, 0)) return;
    // Encode after a 1-byte length (most strings are short); shift the bytes when the length needs more.
    const at = this.length;
    const { written } = utf8.encodeInto(s, this.bytes.subarray(at + 1));
    let lengthBytes = 1;
    for (let v = written; v >= 0x80; v = Math.floor(v / 0x80)) lengthBytes++;
    if (lengthBytes > 1) this.bytes.copyWithin(at + lengthBytes, at + 1, at + 1 + written);
    this.varint(written);
    this.length = at + lengthBytes + written;
  }

  /** `s` from UTF-16 unit `start` on, as `string` writes `s.slice(start)` (ASCII without the slice). */
  stringFrom(s: string, start: number): void {
    this.reserve(1 + s.length - start);
    if (!this.shortAscii(s, start)) this.string(start === 0 ? s : s.slice(start));
  }

  /**
   * `s` from `start` on, when it is ASCII and shorter than 128 units: a 1-byte length and the bytes copied one by one
   * (ids, feature names: cheaper than an encoder call per short string). False, writing nothing, otherwise. The
   * caller reserved room.
   */
  private shortAscii(s: string, start: number): boolean {
    const n = s.length - start;
    if (n >= 0x80) return false;
    const at = this.length + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(start + i);
      if (c >= 0x80) return false;
      this.bytes[at + i] = c;
    }
    this.bytes[this.length] = n;
    this.length = at + n;
    return true;
  }

  /** Many Float64 values at once (one native copy through a scratch array). */
  f64s(values: ArrayLike<number>): void {
    const n = values.length;
    if (scratchF64.length < n) scratchF64 = new Float64Array(Math.max(n, scratchF64.length * 2));
    for (let i = 0; i < n; i++) scratchF64[i] = values[i] as number;
    this.reserve(n * 8);
    this.bytes.set(new Uint8Array(scratchF64.buffer, 0, n * 8), this.length);
    this.length += n * 8;
  }

  /** The first `n` values of a Float64Array, bytes as they are (little-endian on every platform Node runs on). */
  f64Array(values: Float64Array, n: number): void {
    this.reserve(n * 8);
    this.bytes.set(new Uint8Array(values.buffer, values.byteOffset, n * 8), this.length);
    this.length += n * 8;
  }

  /** Appends `source[start, end)` as they are. */
  bytesOf(source: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    this.bytes.set(source.subarray(start, end), this.length);
    this.length += end - start;
  }

  /** The written bytes, without a copy: valid until the next write or `clear`. */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Forgets what was written (reuse of a scratch writer). */
  clear(): void {
    this.length = 0;
  }

  /** Appends another writer's bytes, prefixed by their length (a skippable section). */
  section(inner: ByteWriter): void {
    this.varint(inner.length);
    this.reserve(inner.length);
    this.bytes.set(inner.bytes.subarray(0, inner.length), this.length);
    this.length += inner.length;
  }

  /** The written bytes in a buffer of their own (transferable to a worker). */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

export class ByteReader {
  private readonly view: DataView;
  private readonly text: Buffer;
  at = 0;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
    view?: DataView,
    text?: Buffer,
  ) {
    this.view = view ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Buffer's UTF-8 slice: no TextDecoder call per short string.
    this.text = text ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = start;
  }

  u8(): number {
    if (this.at >= this.end) throw new RangeError("decision record: truncated");
    return this.bytes[this.at++] as number;
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  }

  f64(): number {
    if (this.at + 8 > this.end) throw new RangeError("decision record: truncated");
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  string(): string {
    const n = this.varint();
    const at = this.at;
    if (at + n > this.end) throw new RangeError("decision record: truncated");
    this.at += n;
    if (n <= SHORT_ASCII) {
      const s = shortAscii(this.bytes, at, n);
      if (s !== undefined) return s;
    }
    return this.text.toString("utf8", at, at + n);
  }

  /** `n` Float64 values into `out` from `at` (one native copy of their bytes: the record stores them as they are). */
  f64sInto(out: Float64Array, at: number, n: number): void {
    if (this.at + n * 8 > this.end) throw new RangeError("decision record: truncated");
    new Uint8Array(out.buffer, out.byteOffset + at * 8, n * 8).set(this.bytes.subarray(this.at, this.at + n * 8));
    this.at += n * 8;
  }

  /** Appends this reader's underlying bytes [start, end) to `out` (a part copied through unchanged). */
  copyRange(start: number, end: number, out: ByteWriter): void {
    out.bytesOf(this.bytes, start, end);
  }

  /** Skips a string without decoding it. */
  skipString(): void {
    const n = this.varint();
    this.at += n;
  }

  /** A reader over the next length-prefixed section; this reader moves past it. */
  section(): ByteReader {
    const n = this.varint();
    const inner = new ByteReader(this.bytes, this.at, this.at + n, this.view, this.text);
    this.at += n;
    return inner;
  }

  /** Skips the next length-prefixed section. */
  skipSection(): void {
    const n = this.varint();
    this.at += n;
  }
}

/**
 * Strings of at most this many bytes are tried as ASCII in JS first: candidate ids and their suffixes after a
 * shared prefix (record-features.ts), feature names. A native UTF-8 decode call costs ~170 ns per string, the loop
 * ~75 ns (the log writer's thread reads ~110 per decision). Up to 12: V8 keeps concatenations that short flat (a
 * longer one would be a cons string, flattened again when hashed as a Map key).
 */
const SHORT_ASCII = 12;

/** The `n` bytes at `at` as a string when all are ASCII (UTF-8 decodes them to the same units); else undefined. */
function shortAscii(bytes: Uint8Array, at: number, n: number): string | undefined {
  let s = "";
  for (let i = at; i < at + n; i++) {
    const c = bytes[i] as number;
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}
