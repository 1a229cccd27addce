import { describe, expect, it } from "vitest";
import { FeatureEncoder } from "./encoder.js";

function slots(enc: ReturnType<FeatureEncoder["encode"]>, c: number): [number, number][] {
  const out: [number, number][] = [];
  for (let j = enc.offsets[c]!; j < enc.offsets[c + 1]!; j++) out.push([enc.idx[j]!, enc.val[j]!]);
  return out;
}

describe("FeatureEncoder", () => {
  it("encodes numbers as values, strings one-hot, booleans as flags, skipping zeros and false", () => {
    const e = new FeatureEncoder({ dims: 1 << 20, interactions: false, score: true, id: false });
    const enc = e.encode({
      context: { n: 2.5, s: "x", b: true, off: false, zero: 0 },
      candidates: [{ id: "a", features: { price: 3, cat: "shoes", zero: 0 }, score: 0.7 }, { id: "b" }],
    });
    expect(enc.n).toBe(2);
    expect(enc.sharedLen).toBe(4); // constant + n + s=x + b
    expect(Array.from(enc.sharedVal.subarray(0, 4))).toEqual([1, 2.5, 1, 1]);
    expect(slots(enc, 0).map(([, v]) => v)).toEqual([3, 1, 0.7]);
    expect(slots(enc, 1)).toEqual([]);
    for (const [i] of slots(enc, 0)) expect(i).toBeLessThan(1 << 20);
  });

  it("adds shared×action interactions with product values (not for the constant)", () => {
    const e = new FeatureEncoder({ dims: 1 << 20, interactions: true, score: false, id: false });
    const enc = e.encode({ context: { u: 2, d: "m" }, candidates: [{ id: "a", features: { p: 3 } }] });
    const s = slots(enc, 0);
    expect(s).toHaveLength(1 + 2); // action feature + 2 interactions
    expect(s.map(([, v]) => v)).toEqual([3, 6, 3]);
    expect(new Set(s.map(([i]) => i)).size).toBe(3);
  });

  it("is deterministic across encoders and for a reused features object", () => {
    const features = { p: 1, c: "z" };
    const input = {
      context: { u: 1 },
      candidates: [
        { id: "a", features },
        { id: "b", features },
      ],
    };
    const a = new FeatureEncoder({ dims: 1024, id: false }).encode(input);
    const first = [slots(a, 0), slots(a, 1)];
    expect(first[0]).toEqual(first[1]);
    const b = new FeatureEncoder({ dims: 1024, id: false }).encode(input);
    expect([slots(b, 0), slots(b, 1)]).toEqual(first);
  });

  it("adds the candidate id when asked and rejects dims that are not a power of two", () => {
    const enc = new FeatureEncoder({ dims: 64, interactions: false, id: true }).encode({
      context: {},
      candidates: [{ id: "a" }, { id: "b" }],
    });
    expect(slots(enc, 0)).toHaveLength(1);
    expect(() => new FeatureEncoder({ dims: 100 })).toThrow(/power of two/);
  });
});
