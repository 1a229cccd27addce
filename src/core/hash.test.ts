import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bucketOf, murmur3 } from "./hash.js";

const vectors = JSON.parse(readFileSync(new URL("../../spec/hashing.json", import.meta.url), "utf8")) as {
  murmur3: { key: string; seed: number; hash: number }[];
  bucket: { seed: string; unit: string; bucket: number }[];
};

describe("versioned hashing", () => {
  it("reproduces the MurmurHash3 vectors in spec/hashing.json", () => {
    for (const v of vectors.murmur3) expect(murmur3(v.key, v.seed), JSON.stringify(v.key)).toBe(v.hash);
  });

  it("buckets v1 as in the spec, uniformly", () => {
    for (const v of vectors.bucket) expect(bucketOf(v.seed, v.unit)).toBeCloseTo(v.bucket, 12);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[Math.floor(bucketOf("s", `user-${i}`) * 10)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500); // > 5 sigma from uniform would fail
  });
});
