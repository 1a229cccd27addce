import { describe, expect, it } from "vitest";
import { murmur3 } from "../core/hash.js";
import { Xoshiro128 } from "../core/rng.js";
import type { FeatureMap } from "../core/types.js";
import { FeatureEncoder, symlog } from "./encoder.js";
import { InteractionSums } from "./interaction-sums.js";
import { parseFeatures } from "./params.js";
import { FEATURE_LAYERS, type PolicyCandidate } from "./policy.js";

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

  it("hashes `name=value` and the id as the concatenated names (memoized without building the string)", () => {
    const mask = (1 << 20) - 1;
    const e = new FeatureEncoder({ dims: 1 << 20, interactions: false, score: false, id: true });
    for (let round = 0; round < 2; round++) {
      const enc = e.encode({ context: { dev: "mobile" }, candidates: [{ id: "item7" }] });
      expect(enc.sharedIdx[1]).toBe(murmur3("dev=mobile", 0x5eed0001) & mask);
      expect(enc.idx[enc.offsets[0]!]).toBe(murmur3("__id=item7", 0x5eed0002) & mask);
      // The id slot equals the one-hot slot of an action feature named __id with that value.
      const viaFeature = e.encode({ context: {}, candidates: [{ id: "x", features: { __id: "item7" } }] });
      expect(viaFeature.idx[viaFeature.offsets[0]!]).toBe(enc.idx[enc.offsets[0]!]);
    }
  });

  it("marks each candidate's features block (first entries) with an id stable per features object", () => {
    const e = new FeatureEncoder({ dims: 64, interactions: false, score: true, id: false });
    const f1 = { p: 2, c: "a" };
    const f2 = { p: 3 };
    const input = (s: number) => ({
      context: { u: s },
      candidates: [
        { id: "a", features: f1, score: s },
        { id: "b", features: f2, score: s },
        { id: "c", score: s },
        { id: "d", features: f1 },
      ],
    });
    const first = e.encode(input(0.5));
    const ids = Array.from(first.blockId.subarray(0, 4));
    expect(Array.from(first.blockLen.subarray(0, 4))).toEqual([2, 1, 0, 2]);
    expect(ids[2]).toBe(-1);
    expect(ids[0]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[1]);
    const again = e.encode(input(0.7));
    expect(Array.from(again.blockId.subarray(0, 4))).toEqual(ids);
    // A new object with equal contents is a new block (its contents are not compared).
    const other = e.encode({ context: {}, candidates: [{ id: "a", features: { p: 2, c: "a" } }] });
    expect(ids).not.toContain(other.blockId[0]);
    // With interactions the layout interleaves, so no block is reported.
    const inter = new FeatureEncoder({ dims: 64, interactions: true }).encode(input(0.5));
    expect(inter.blockId[0]).toBe(-1);
    expect(inter.blockLen[0]).toBe(0);
  });

  it("encodeAt(input, c) is encode() of candidate c alone, with and without interactions, layers and profile", () => {
    const rng = new Xoshiro128(3);
    const base = { price: 3, cat: "shoes", on: true };
    for (const interactions of [false, true]) {
      const e = new FeatureEncoder({ dims: 1 << 12, interactions, score: true, id: true });
      const candidates: PolicyCandidate[] = Array.from({ length: 5 }, (_, i) => ({
        id: `i${i}`,
        features: { p: rng.next(), cat: `c${i % 2}` },
        score: rng.next(),
      }));
      const layered: PolicyCandidate = { id: "l", features: { ...base, disc: 0.2 }, score: 0.5 };
      layered[FEATURE_LAYERS] = [base, { disc: 0.2 }];
      candidates.push(layered);
      const input = { context: { u: 2, d: "m" }, profile: { visits: 4 }, candidates };
      for (let c = 0; c < candidates.length; c++) {
        const alone = e.encode({ context: input.context, profile: input.profile, candidates: [candidates[c]!] });
        const expected = { ...alone, sharedIdx: [...alone.sharedIdx.subarray(0, alone.sharedLen)] };
        const expectedSlots = slots(alone, 0);
        const expectedBlock = [alone.blockLen[0], alone.blockId[0]! >= 0];
        const at = e.encodeAt(input, c);
        expect(at.n).toBe(1);
        expect(at.sharedLen).toBe(expected.sharedLen);
        expect([...at.sharedIdx.subarray(0, at.sharedLen)]).toEqual(expected.sharedIdx);
        expect(slots(at, 0)).toEqual(expectedSlots);
        expect([at.blockLen[0], at.blockId[0]! >= 0]).toEqual(expectedBlock);
      }
    }
  });

  it("dots() equals the sums over encode()'s entries, bit for bit", () => {
    const rng = new Xoshiro128(9);
    for (const opts of [
      { dims: 1 << 12, interactions: true, id: true, score: true },
      { dims: 64, interactions: false, id: false, score: true },
    ]) {
      const e = new FeatureEncoder(opts);
      const w = Float64Array.from({ length: opts.dims }, () => rng.next() - 0.5);
      const w2 = Float64Array.from({ length: opts.dims }, () => rng.next());
      const input = {
        context: { u: 3, d: "m", b: true, z: 0, x: 0.25 },
        candidates: Array.from({ length: 12 }, (_, c) => ({
          id: `i${c}`,
          features: c % 4 === 3 ? undefined : { p: c / 3, cat: `k${c % 3}`, on: c % 2 === 0 },
          ...(c % 5 === 4 ? {} : { score: rng.next() }),
        })),
      };
      const mean = new Float64Array(12);
      const sq = new Float64Array(12);
      e.dots(input, w, mean, w2, sq);
      const meanOnly = new Float64Array(12);
      e.dots(input, w, meanOnly);
      expect(Array.from(meanOnly)).toEqual(Array.from(mean));
      const enc = e.encode(input);
      for (let c = 0; c < 12; c++) {
        let m = 0;
        let q = 0;
        for (let j = enc.offsets[c]!; j < enc.offsets[c + 1]!; j++) {
          const x = enc.val[j]!;
          m += w[enc.idx[j]!]! * x;
          q += w2[enc.idx[j]!]! * x * x;
        }
        expect(mean[c]).toBe(m);
        expect(sq[c]).toBe(q);
      }
    }
  });

  it("a candidate with feature layers encodes exactly as its merged features object, falling back on overlaps", () => {
    const rng = new Xoshiro128(4);
    const catalog = { category: "shoes", price: 42.5, onSale: true, zero: 0 };
    const indexed = { "7": 1, category: "bags" };
    const overlays: FeatureMap[] = [
      { discount: 12, badge: "new" }, // disjoint names: concatenated layers
      { price: 3, badge: "none" }, // overrides a catalog value: falls back to the merged object
      { "2": 5, badge: "new" }, // an array-index name reorders the merged object: falls back
      {},
    ];
    const layered = (base: FeatureMap, overlay: FeatureMap, c: number): PolicyCandidate => ({
      id: `i${c}`,
      features: { ...base, ...overlay },
      score: c / 7,
      [FEATURE_LAYERS]: [base, overlay],
    });
    const input = (withLayers: boolean) => ({
      context: { u: 3, d: "m" },
      candidates: [catalog, indexed].flatMap((base, b) =>
        overlays.map((overlay, o) => {
          const c = layered(base, overlay, 4 * b + o);
          if (!withLayers) delete c[FEATURE_LAYERS];
          return c;
        }),
      ),
    });
    for (const opts of [
      { dims: 1 << 12, interactions: true, id: true, score: true, numeric: "symlog" as const },
      { dims: 64, interactions: false, id: false, score: true },
    ]) {
      const plain = new FeatureEncoder(opts);
      const fast = new FeatureEncoder(opts);
      const a = plain.encode(input(false));
      const aSlots = Array.from({ length: a.n }, (_, c) => slots(a, c));
      const b = fast.encode(input(true));
      expect(Array.from({ length: b.n }, (_, c) => slots(b, c))).toEqual(aSlots);
      const w = Float64Array.from({ length: opts.dims }, () => rng.next() - 0.5);
      const w2 = Float64Array.from({ length: opts.dims }, () => rng.next());
      const out = [0, 1].map(() => [new Float64Array(8), new Float64Array(8)] as const);
      plain.dots(input(false), w, out[0]![0], w2, out[0]![1]);
      fast.dots(input(true), w, out[1]![0], w2, out[1]![1]);
      expect(Array.from(out[1]![0])).toEqual(Array.from(out[0]![0]));
      expect(Array.from(out[1]![1])).toEqual(Array.from(out[0]![1]));
    }
  });

  it("dotsServing() agrees with dots() to rounding and gives the same numbers from a cold or warm cache", () => {
    const rng = new Xoshiro128(12);
    const opts = { dims: 1 << 12, interactions: true, id: true, score: true, numeric: "symlog" as const };
    const catalog = Array.from({ length: 6 }, (_, i) => ({ p: i + 0.5, cat: `k${i % 3}`, on: i % 2 === 0 }));
    const input = (u: number) => ({
      context: { u, d: u % 2 === 0 ? "m" : "d", b: true, z: 0 },
      candidates: catalog.map((base, c) => {
        const overlay = { discount: c + u };
        // Reused catalog objects, fresh merged objects with layers, and a fresh object without layers.
        if (c === 4) return { id: `i${c}`, features: { ...base, ...overlay }, score: u / 10 };
        if (c % 2 === 0) return { id: `i${c}`, features: base, score: u / 10 };
        return { id: `i${c}`, features: { ...base, ...overlay }, [FEATURE_LAYERS]: [base, overlay] as const };
      }),
    });
    const w = Float64Array.from({ length: opts.dims }, () => rng.next() - 0.5);
    const w2 = Float64Array.from({ length: opts.dims }, () => rng.next());
    const run = (e: FeatureEncoder, sums: InteractionSums, u: number) => {
      const m = new Float64Array(6);
      const q = new Float64Array(6);
      e.dotsServing(input(u), interleave(w, w2), m, q, sums);
      return [Array.from(m), Array.from(q)];
    };
    const warm = new FeatureEncoder(opts);
    const sums = new InteractionSums();
    for (let u = 1; u <= 4; u++) {
      const first = run(warm, sums, u);
      expect(run(warm, sums, u)).toEqual(first); // warm cache
      expect(run(new FeatureEncoder(opts), new InteractionSums(), u)).toEqual(first); // cold cache
      const m = new Float64Array(6);
      const q = new Float64Array(6);
      new FeatureEncoder(opts).dots(input(u), w, m, w2, q);
      for (let c = 0; c < 6; c++) {
        expect(first[0]![c]).toBeCloseTo(m[c]!, 12);
        expect(first[1]![c]).toBeCloseTo(q[c]!, 12);
      }
    }
    // New weights: after invalidate() the cache gives what a fresh one gives.
    for (let i = 0; i < w.length; i++) w[i] = w[i]! + 0.1;
    sums.invalidate();
    expect(run(warm, sums, 3)).toEqual(run(new FeatureEncoder(opts), new InteractionSums(), 3));
    // A cache past its bound starts over at every request (blocks re-indexed): still the same numbers.
    const small = new InteractionSums(8);
    for (let u = 1; u <= 4; u++)
      expect(run(warm, small, u)).toEqual(run(new FeatureEncoder(opts), new InteractionSums(), u));
  });

  it("dotsServing() sums a layered candidate's request features per hash, equal to dots() to rounding, with fallbacks", () => {
    const rng = new Xoshiro128(21);
    const opts = { dims: 1 << 10, interactions: true, id: true, score: true, numeric: "symlog" as const };
    const bases: FeatureMap[] = [
      { cat: "a", price: 10 },
      { cat: "b", price: 99.5, onSale: true },
      { "3": 1, cat: "c" }, // an array-index name: the merged object orders it first, so no concatenation
    ];
    // Request features repeat across candidates with different values (one hash, many values), of every kind;
    // one overlay overrides a catalog name (falls back to the merged object), one is empty, one all zero/false.
    const overlay = (c: number, u: number): FeatureMap => {
      if (c % 7 === 3) return { price: c + u, badge: "x" };
      if (c % 7 === 5) return {};
      if (c % 7 === 6) return { discount: 0, flag: false, nan: Number.NaN };
      return { discount: (c % 4) + u, badge: c % 2 === 0 ? "new" : "none", flag: c % 3 === 0, neg: -c };
    };
    const input = (u: number) => ({
      context: { u, d: u % 2 === 0 ? "m" : "d", ref: `r${u}`, b: true },
      candidates: Array.from({ length: 21 }, (_, c): PolicyCandidate => {
        const base = bases[c % 3]!;
        const o = overlay(c, u);
        const cand: PolicyCandidate = { id: `i${c}`, features: { ...base, ...o }, [FEATURE_LAYERS]: [base, o] };
        if (c % 5 !== 0) cand.score = (c + u) / 9;
        return cand;
      }),
    });
    const w = Float64Array.from({ length: opts.dims }, () => rng.next() - 0.5);
    const w2 = Float64Array.from({ length: opts.dims }, () => rng.next());
    const serve = (e: FeatureEncoder, sums: InteractionSums, u: number) => {
      const m = new Float64Array(21);
      const q = new Float64Array(21);
      e.dotsServing(input(u), interleave(w, w2), m, q, sums);
      return [Array.from(m), Array.from(q)] as const;
    };
    const warm = new FeatureEncoder(opts);
    const sums = new InteractionSums();
    for (let u = 1; u <= 5; u++) {
      const first = serve(warm, sums, u);
      expect(serve(warm, sums, u)).toEqual(first);
      expect(serve(new FeatureEncoder(opts), new InteractionSums(), u)).toEqual(first);
      const m = new Float64Array(21);
      const q = new Float64Array(21);
      new FeatureEncoder(opts).dots(input(u), w, m, w2, q);
      for (let c = 0; c < 21; c++) {
        expect(first[0][c]).toBeCloseTo(m[c]!, 12);
        expect(first[1][c]).toBeCloseTo(q[c]!, 12);
      }
    }
  });

  it("symlog maps every numeric value (context, action features, score) to sign(x)·log(1+|x|)", () => {
    expect(symlog(0)).toBe(0);
    expect(symlog(Math.E - 1)).toBeCloseTo(1, 12);
    expect(symlog(-955)).toBeCloseTo(-Math.log(956), 12);
    const input = {
      context: { secs: 955, neg: -3, s: "x", b: true },
      candidates: [{ id: "a", features: { price: 63, cat: "k" }, score: 0.5 }],
    };
    const opts = { dims: 1 << 16, interactions: false, id: false, score: true } as const;
    const raw = new FeatureEncoder({ ...opts, numeric: "raw" }).encode(input);
    const rawShared = Array.from(raw.sharedVal.subarray(0, raw.sharedLen));
    const rawAction = slots(raw, 0);
    const sym = new FeatureEncoder({ ...opts, numeric: "symlog" }).encode(input);
    // Same slots; numbers transformed, one-hot and boolean entries (value 1) and the constant left as 1.
    expect(Array.from(sym.sharedIdx.subarray(0, sym.sharedLen))).toEqual(
      Array.from(raw.sharedIdx.subarray(0, raw.sharedLen)),
    );
    expect(Array.from(sym.sharedVal.subarray(0, sym.sharedLen))).toEqual([1, symlog(955), symlog(-3), 1, 1]);
    expect(rawShared).toEqual([1, 955, -3, 1, 1]);
    expect(slots(sym, 0)).toEqual([
      [rawAction[0]![0], symlog(63)],
      [rawAction[1]![0], 1],
      [rawAction[2]![0], symlog(0.5)],
    ]);
    // With interactions the products are of transformed values, and dots() agrees with encode().
    const e = new FeatureEncoder({ ...opts, interactions: true, numeric: "symlog" });
    const vals = slots(e.encode(input), 0).map(([, v]) => v);
    expect(vals).toContain(symlog(63) * symlog(955));
    const w = new Float64Array(1 << 16).fill(1);
    const out = new Float64Array(1);
    e.dots(input, w, out);
    expect(out[0]).toBeCloseTo(
      vals.reduce((a, b) => a + b, 0),
      12,
    );
  });

  it("the spec's features.numeric picks the transform; raw when unset; anything else is rejected", () => {
    expect(parseFeatures({ type: "thompson" }).numeric).toBe("raw");
    expect(parseFeatures({ type: "thompson", features: { numeric: "symlog" } }).numeric).toBe("symlog");
    expect(() => parseFeatures({ type: "thompson", features: { numeric: "log" } })).toThrow();
  });

  it("actionFeatures: false drops the candidates' features block and keeps the per-request score", () => {
    const input = { context: { u: 1 }, candidates: [{ id: "a", features: { p: 3, c: "z" }, score: 0.5 }] };
    const opts = { dims: 1 << 16, interactions: false, id: false, score: true } as const;
    const all = slots(new FeatureEncoder(opts).encode(input), 0);
    const none = new FeatureEncoder({ ...opts, actionFeatures: false }).encode(input);
    expect(all).toHaveLength(3);
    expect(slots(none, 0)).toEqual([all[2]]);
    expect(none.blockLen[0]).toBe(0);
  });

  describe("profile (the feature store's aggregates, a namespace apart)", () => {
    const opts = { dims: 1 << 16, interactions: true, id: false, score: false } as const;
    const candidates = [{ id: "a", features: { cat: "k", p: 2 } }];
    const shared = (e: FeatureEncoder, input: Parameters<FeatureEncoder["encode"]>[0]) => {
      const enc = e.encode(input);
      return Array.from(enc.sharedIdx.subarray(0, enc.sharedLen)).map((i, k) => [i, enc.sharedVal[k]]);
    };

    it('"all" encodes exactly what the merged { ...profile, ...context } did, the request winning a name', () => {
      const profile = { secs: 5, affinity_category_0: "shoes", device: "stale" };
      const context = { device: "mobile", page: "home" };
      const e = new FeatureEncoder({ ...opts, profile: "all" });
      const split = { context, profile, candidates };
      const merged = { context: { ...profile, ...context }, candidates };
      expect(shared(e, split)).toEqual(shared(new FeatureEncoder(opts), merged));
      expect(slots(e.encode(split), 0)).toEqual(slots(new FeatureEncoder(opts).encode(merged), 0));
      const w = Float64Array.from({ length: 1 << 16 }, (_, i) => (i % 7) - 3);
      const [a, b] = [new Float64Array(1), new Float64Array(1)];
      e.dots(split, w, a);
      new FeatureEncoder(opts).dots(merged, w, b);
      expect(a[0]).toBe(b[0]);
    });

    it('"none" ignores the profile; a list keeps exact names and prefixes ending in *', () => {
      const profile = { secs: 5, affinity_category_0: "shoes", affinity_score_0: 2, last_item_0: "x" };
      const context = { device: "mobile" };
      const none = new FeatureEncoder({ ...opts, profile: "none" });
      expect(shared(none, { context, profile, candidates })).toEqual(shared(none, { context, candidates }));
      const some = new FeatureEncoder({ ...opts, profile: ["secs", "affinity_*"] });
      const expected = shared(new FeatureEncoder(opts), {
        context: { secs: 5, affinity_category_0: "shoes", affinity_score_0: 2, device: "mobile" },
        candidates,
      });
      expect(shared(some, { context, profile, candidates })).toEqual(expected);
      expect(some.usedProfile(profile)).toEqual({ secs: 5, affinity_category_0: "shoes", affinity_score_0: 2 });
      expect(none.usedProfile(profile)).toBeUndefined();
    });

    it("the spec's features.profile is validated: all, none or names/prefixes; all when unset", () => {
      expect(parseFeatures({ type: "thompson" }).profile).toBe("all");
      expect(parseFeatures({ type: "thompson", features: { profile: "none" } }).profile).toBe("none");
      expect(parseFeatures({ type: "thompson", features: { profile: ["a", "b_*"] } }).profile).toEqual(["a", "b_*"]);
      expect(() => parseFeatures({ type: "thompson", features: { profile: "some" } })).toThrow();
      expect(() => parseFeatures({ type: "thompson", features: { profile: ["a*b"] } })).toThrow();
    });
  });
});

/** [w_0, w2_0, w_1, w2_1, ...], the layout dotsServing reads (DiagonalGaussian.servingPairs). */
function interleave(w: Float64Array, w2: Float64Array): Float64Array {
  const out = new Float64Array(2 * w.length);
  for (let i = 0; i < w.length; i++) {
    out[2 * i] = w[i]!;
    out[2 * i + 1] = w2[i]!;
  }
  return out;
}
