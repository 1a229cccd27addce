/**
 * Versioned, seeded hashing. Rollout buckets, exploration seeds and feature hashing each use their own
 * seed string so they are independent (Unleash, GrowthBook). Changing these functions changes every
 * user's bucket: the version in `bucketOf` exists so a future change can be opted into, never silent.
 * Vectors in spec/hashing.json pin the outputs.
 */

const textEncoder = new TextEncoder();

/** MurmurHash3 x86 32-bit over the UTF-8 bytes of `key` (Appleby, public domain). */
export function murmur3(key: string, seed = 0): number {
  const data = textEncoder.encode(key);
  const len = data.length;
  const nblocks = len >>> 2;
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  for (let i = 0; i < nblocks; i++) {
    const o = i << 2;
    let k =
      (data[o] as number) |
      ((data[o + 1] as number) << 8) |
      ((data[o + 2] as number) << 16) |
      ((data[o + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks << 2;
  let k1 = 0;
  switch (len & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur3's tail deliberately falls through
    case 3:
      k1 ^= (data[tail + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: as above
    case 2:
      k1 ^= (data[tail + 1] as number) << 8;
    case 1:
      k1 ^= data[tail] as number;
      k1 = Math.imul(k1, c1);
      k1 = (k1 << 15) | (k1 >>> 17);
      k1 = Math.imul(k1, c2);
      h ^= k1;
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
