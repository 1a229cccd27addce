/**
 * Versioned, seeded hashing. Rollout buckets, exploration seeds and feature hashing each use their own
 * seed string so they are independent (Unleash, GrowthBook). Changing these functions changes every
 * user's bucket: the version in `bucketOf` exists so a future change can be opted into, never silent.
 * Vectors in spec/hashing.json pin the outputs.
 */

const textEncoder = new TextEncoder();

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * MurmurHash3 x86 32-bit over the UTF-8 bytes of `key` (Appleby, public domain). An ASCII key's UTF-8 bytes are
 * its UTF-16 code units, so it is hashed straight from the string: no byte array per call (TextEncoder.encode
 * allocated one, ~1 µs; keys are hashed on every rank and ingest). Any other key goes through its UTF-8 bytes.
 */
export function murmur3(key: string, seed = 0): number {
  const len = key.length;
  const nblocks = len >>> 2;
  let h = seed >>> 0;
  for (let i = 0; i < nblocks; i++) {
    const o = i << 2;
    const b0 = key.charCodeAt(o);
    const b1 = key.charCodeAt(o + 1);
    const b2 = key.charCodeAt(o + 2);
    const b3 = key.charCodeAt(o + 3);
    if ((b0 | b1 | b2 | b3) > 0x7f) return murmur3Bytes(textEncoder.encode(key), seed);
    h = mixBlock(h, b0 | (b1 << 8) | (b2 << 16) | (b3 << 24));
  }
  const tail = nblocks << 2;
  let k1 = 0;
  for (let i = len - 1; i >= tail; i--) {
    const b = key.charCodeAt(i);
    if (b > 0x7f) return murmur3Bytes(textEncoder.encode(key), seed);
    k1 = (k1 << 8) | b;
  }
  return finish(h, k1, len);
}

/** MurmurHash3 x86 32-bit over bytes (the reference form; `murmur3` equals it on a key's UTF-8 bytes). */
export function murmur3Bytes(data: Uint8Array, seed = 0): number {
  const len = data.length;
  const nblocks = len >>> 2;
  let h = seed >>> 0;
  for (let i = 0; i < nblocks; i++) {
    const o = i << 2;
    h = mixBlock(
      h,
      (data[o] as number) |
        ((data[o + 1] as number) << 8) |
        ((data[o + 2] as number) << 16) |
        ((data[o + 3] as number) << 24),
    );
  }
  const tail = nblocks << 2;
  let k1 = 0;
  for (let i = len - 1; i >= tail; i--) k1 = (k1 << 8) | (data[i] as number);
  return finish(h, k1, len);
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  let out = h ^ k;
  out = (out << 13) | (out >>> 19);
  return (Math.imul(out, 5) + 0xe6546b64) | 0;
}

/** The tail's 1-3 bytes (k1, little-endian; 0 when none), then the length and fmix32. */
function finish(hash: number, k1: number, len: number): number {
  let h = hash;
  if ((len & 3) !== 0) {
    let k = Math.imul(k1, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash version 1: bucket = murmur3("seed:unit") / 2^32, a number in [0, 1). */
export function bucketOf(seed: string, unit: string, version: 1 = 1): number {
  if (version !== 1) throw new Error(`unknown hash version ${version}`);
  return murmur3(`${seed}:${unit}`) / 4294967296;
}

/** Index into a hashed feature space of `dims` slots (VW-style hashing trick for open vocabularies). */
export function hashIndex(name: string, dims: number, seed = 0): number {
  return murmur3(name, seed) % dims;
}
