import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketOf, murmur3, murmur3Bytes } from "./hash.js";

const vectors = JSON.parse(readFileSync(new URL("../../spec/hashing.json", import.meta.url), "utf8")) as {
  murmur3: { key: string; seed: number; hash: number }[];
  bucket: { seed: string; unit: string; bucket: number }[];
};

describe("versioned hashing", () => {
  it("reproduces the MurmurHash3 vectors in spec/hashing.json", () => {
    for (const v of vectors.murmur3) expect(murmur3(v.key, v.seed), JSON.stringify(v.key)).toBe(v.hash);
  });

  it("hashes a string as its UTF-8 bytes, on the ASCII fast path and off it", () => {
    const utf8 = new TextEncoder();
    // Every tail length, ASCII and not, lone surrogates (encoded as U+FFFD) and a non-ASCII char in any block.
    const keys = fc.oneof(
      fc.string({ unit: "binary-ascii" }),
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: "binary" }),
    );
    fc.assert(
      fc.property(keys, fc.integer({ min: 0, max: 0xffffffff }), (key, seed) => {
        expect(murmur3(key, seed)).toBe(murmur3Bytes(utf8.encode(key), seed));
      }),
      { numRuns: 2000 },
    );
    expect(murmur3("abcd\u00e9", 7)).toBe(murmur3Bytes(utf8.encode("abcd\u00e9"), 7));
    expect(murmur3("ab\ud800cdef")).toBe(murmur3Bytes(utf8.encode("ab\ufffdcdef")));
  });

  it("buckets v1 as in the spec, uniformly", () => {
    for (const v of vectors.bucket) expect(bucketOf(v.seed, v.unit)).toBeCloseTo(v.bucket, 12);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[Math.floor(bucketOf("s", `user-${i}`) * 10)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500); // > 5 sigma from uniform would fail
  });
});
