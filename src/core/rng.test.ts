import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rngFor, Xoshiro128 } from "./rng.js";

/** The seeding as first written (splitmix32 by a closure): logged decisions replay only if streams never change. */
function referenceStream(seed: number, count: number): number[] {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let [a, b, c, d] = [split(), split(), split(), split()];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const x = Math.imul(b, 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    out.push(r / 4294967296);
  }
  return out;
}

describe("seeded RNG", () => {
  it("draws the same stream for a seed as the reference seeding, so logged decisions replay", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const rng = new Xoshiro128(seed);
        expect(Array.from({ length: 8 }, () => rng.next())).toEqual(referenceStream(seed, 8));
      }),
      { numRuns: 2000 },
    );
    for (const seed of [0, 1, 0x61c88646, 0x9e3779b9, 0xffffffff]) {
      const rng = new Xoshiro128(seed);
      expect(Array.from({ length: 4 }, () => rng.next())).toEqual(referenceStream(seed, 4));
    }
  });

  it("gives one purpose and key one stream, and another key another", () => {
    const draw = (key: string) =>
      Array.from(
        { length: 4 },
        (
          (r) => () =>
            r.next()
        )(rngFor("explore", key)),
      );
    expect(draw("dec_1")).toEqual(draw("dec_1"));
    expect(draw("dec_1")).not.toEqual(draw("dec_2"));
  });
});
