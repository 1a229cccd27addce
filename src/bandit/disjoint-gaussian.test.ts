import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import type { FeatureMap } from "../core/types.js";
import { DisjointGaussian, type DisjointState } from "./disjoint-gaussian.js";
import { type EncodedInput, FeatureEncoder } from "./encoder.js";
import type { PolicyInput } from "./policy.js";
import { decodeF64, type F64Data } from "./snapshot-codec.js";

const D = 16;
const PRIOR = 0.5;

/** Items with fixed feature objects (as a catalog hands out), so the encoder sees stable blocks. */
function catalog(rng: Xoshiro128, n: number): { id: string; features: FeatureMap; score: number }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `i${i}`,
    features: { p: Math.round(rng.next() * 10) / 10, cat: `c${i % 3}`, q: i % 2 === 0 },
    score: rng.next(),
  }));
}

function request(rng: Xoshiro128, items: ReturnType<typeof catalog>, u: number): PolicyInput {
  const candidates = items.map((it) => ({ ...it, score: Math.round(rng.next() * 100) / 100 }));
  // Keep each item's features object (the block) but vary the per-request score.
  candidates.forEach((c, i) => {
    c.features = items[i]!.features;
  });
  return { context: { u: 1 + (u % 4), dev: u % 2 === 0 ? "m" : "d", n: rng.next() }, candidates };
}

/**
 * Posterior (mu, cov) per arm id as the snapshot stores it, for the learner or the serving copy; `float32`: rounded
 * as the serving arena holds it (serving-arena.ts).
 */
function posteriors(
  state: DisjointState,
  serving: boolean,
  float32 = false,
): Map<string, { mu: Float64Array; cov: Float64Array }> {
  const out = new Map<string, { mu: Float64Array; cov: Float64Array }>();
  const read = (data: F64Data) => (float32 ? decodeF64(data).map(Math.fround) : decodeF64(data));
  for (const [id, a] of state.arms) {
    if (!serving) out.set(id, { mu: read(a.mu), cov: read(a.cov) });
    else if (a.synced) {
      out.set(id, { mu: read(a.servingMu ?? a.mu), cov: read(a.servingCov ?? a.cov) });
    }
  }
  return out;
}

/** The reference: dense x of candidate c, mean xᵀμ and variance xᵀΣx with every term. */
function dense(enc: EncodedInput, c: number, post: { mu: Float64Array; cov: Float64Array } | undefined) {
  const x = new Float64Array(D);
  for (let j = 0; j < enc.sharedLen; j++) x[enc.sharedIdx[j]!] = x[enc.sharedIdx[j]!]! + enc.sharedVal[j]!;
  for (let j = enc.offsets[c]!; j < enc.offsets[c + 1]!; j++) x[enc.idx[j]!] = x[enc.idx[j]!]! + enc.val[j]!;
  let m = 0;
  let v = 0;
  for (let i = 0; i < D; i++) {
    if (!post) {
      v += PRIOR * x[i]! * x[i]!;
      continue;
    }
    m += post.mu[i]! * x[i]!;
    for (let j = 0; j < D; j++) v += x[i]! * post.cov[i * D + j]! * x[j]!;
  }
  return { m, v };
}

/** `fromArena`: the serving predictions read the float32 arena (context-only arms), so the reference rounds alike. */
function expectPredictionsMatch(
  g: DisjointGaussian,
  enc: EncodedInput,
  ids: string[],
  serving: boolean,
  fromArena = false,
): void {
  const mean = new Float64Array(enc.n);
  const variance = new Float64Array(enc.n);
  g.predict(enc, ids, serving, mean, variance);
  const post = posteriors(g.snapshot(), serving, fromArena);
  for (let c = 0; c < enc.n; c++) {
    const ref = dense(enc, c, post.get(ids[c]!));
    expect(mean[c]).toBeCloseTo(ref.m, 12);
    expect(variance[c]).toBeCloseTo(ref.v, 12);
  }
  const meanOnly = new Float64Array(enc.n);
  g.predict(enc, ids, serving, meanOnly, new Float64Array(enc.n), false);
  expect(Array.from(meanOnly)).toEqual(Array.from(mean));
}

describe("DisjointGaussian", () => {
  it("predicts xᵀμ and xᵀΣx of the dense posterior, through its per-item block cache, as the posterior moves", () => {
    const rng = new Xoshiro128(21);
    const items = catalog(rng, 8);
    const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: true });
    const g = new DisjointGaussian(D, PRIOR, 100, true);
    const ids = items.map((i) => i.id);
    for (let round = 0; round < 4; round++) {
      for (let t = 0; t < 15; t++) {
        const input = request(rng, items, t);
        const c = (t * 3 + round) % 6; // items 6 and 7 stay at the prior
        const one = enc.encode({ context: input.context, candidates: [input.candidates[c]!] });
        g.update(one, input.candidates[c]!.id, rng.next() < 0.5 ? 1 : 0, "gaussian", 0.25, 1);
      }
      // Learner moved since the last sync: learner and serving predictions differ and both must match.
      for (let u = 0; u < 3; u++) {
        const e = enc.encode(request(rng, items, u));
        expectPredictionsMatch(g, e, ids, false);
        expectPredictionsMatch(g, e, ids, true);
      }
      g.syncServing();
      expectPredictionsMatch(g, enc.encode(request(rng, items, round)), ids, true);
    }
  });

  it("serves context-only arms from its arena: the serving posterior's numbers, through evictions, syncs and a restore", () => {
    for (const score of [false, true]) {
      const rng = new Xoshiro128(score ? 5 : 6);
      const items = catalog(rng, 9);
      // The default hybrid's arms: the context (and the score), no item features, so no block per candidate.
      const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score, actionFeatures: false });
      const g = new DisjointGaussian(D, PRIOR, 5, true);
      const ids = items.map((i) => i.id);
      const predictions = (model: DisjointGaussian, e: EncodedInput, serving: boolean) => {
        const mean = new Float64Array(e.n);
        const variance = new Float64Array(e.n);
        model.predict(e, ids, serving, mean, variance);
        return [Array.from(mean), Array.from(variance)];
      };
      for (let round = 0; round < 6; round++) {
        // More items learn than are kept (maxArms 5): arms are evicted, some after a sync, some before.
        for (let t = 0; t < 8; t++) {
          const input = request(rng, items, t);
          const c = Math.floor(rng.next() * 9);
          const one = enc.encode({ context: input.context, candidates: [input.candidates[c]!] });
          g.update(one, ids[c]!, rng.next() < 0.5 ? 1 : 0, "gaussian", 0.25, 1);
          if (t === 4) g.syncServing();
        }
        // The learner moved since the sync: serving still reads the frozen copies (and the prior for new arms).
        const e = enc.encode(request(rng, items, round));
        expectPredictionsMatch(g, e, ids, true, true);
        g.syncServing();
        // Synced, serving and learner hold the same numbers, the arena's rounded to float32: serving predictions are
        // the learner's to float32 precision, and not the learner's bits (the arena is what serving reads).
        const fresh = enc.encode(request(rng, items, round + 1));
        expectPredictionsMatch(g, fresh, ids, true, true);
        const [servedMean, servedVariance] = predictions(g, fresh, true);
        const [learnerMean, learnerVariance] = predictions(g, fresh, false);
        for (let c = 0; c < ids.length; c++) {
          expect(servedMean![c]).toBeCloseTo(learnerMean![c]!, 5);
          expect(servedVariance![c]! / learnerVariance![c]!).toBeCloseTo(1, 5);
        }
        if (round === 5) expect(servedVariance).not.toEqual(learnerVariance);
        // A restored model serves the same bits (its arena is written from the same serving copies).
        const restored = DisjointGaussian.restore(g.snapshot(), 5, true);
        expect(predictions(restored, fresh, true)).toEqual(predictions(g, fresh, true));
      }
    }
  });

  it("serves the same bits whatever the arena's layout: moved at a sync after enough requests, then written in it", () => {
    const rng = new Xoshiro128(8);
    const items = catalog(rng, 9);
    const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: false, actionFeatures: false });
    const g = new DisjointGaussian(D, PRIOR, 20, true);
    const ids = items.map((i) => i.id);
    const predictions = (model: DisjointGaussian, e: EncodedInput) => {
      const mean = new Float64Array(e.n);
      const variance = new Float64Array(e.n);
      model.predict(e, ids, true, mean, variance);
      return [Array.from(mean), Array.from(variance)];
    };
    const learn = (t: number) => {
      const input = request(rng, items, t);
      const c = t % 9;
      g.update(
        enc.encode({ context: input.context, candidates: [input.candidates[c]!] }),
        ids[c]!,
        t % 3 ? 1 : 0,
        "gaussian",
        0.25,
        1,
      );
    };
    for (let t = 0; t < 30; t++) learn(t);
    g.syncServing();
    expect(g.arenaLayouts).toBe(0);
    // request()'s contexts list the constant, u and n always, dev's two values half the time each: hot enough.
    for (let r = 0; r < 1000; r++) predictions(g, enc.encode(request(rng, items, r)));
    for (let t = 0; t < 30; t++) learn(t);
    g.syncServing();
    expect(g.arenaLayouts).toBe(1);
    for (let round = 0; round < 3; round++) {
      // A restored model's arena is in slot order: the same bits as this one's, in the moved layout.
      const restored = DisjointGaussian.restore(g.snapshot(), 20, true);
      for (let r = 0; r < 5; r++) {
        const e = enc.encode(request(rng, items, r));
        expect(predictions(g, e)).toEqual(predictions(restored, e));
        expectPredictionsMatch(g, e, ids, true, true);
      }
      for (let t = 0; t < 10; t++) learn(t + round);
      g.syncServing();
    }
  });

  it("beginUpdate reads the arm's predictive moments as predict does, and beginUpdate + finishUpdate is update", () => {
    const rng = new Xoshiro128(13);
    const items = catalog(rng, 4);
    const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: true });
    const split = new DisjointGaussian(D, PRIOR, 10, false);
    const whole = new DisjointGaussian(D, PRIOR, 10, false);
    const mean = new Float64Array(1);
    const variance = new Float64Array(1);
    for (let t = 0; t < 40; t++) {
      const input = request(rng, items, t);
      const cand = input.candidates[t % 3]!; // item i3 stays at the prior until the last rounds
      const one = enc.encode({ context: input.context, candidates: [t >= 36 ? input.candidates[3]! : cand] });
      const id = t >= 36 ? "i3" : cand.id;
      split.predict(one, [id], false, mean, variance);
      split.beginUpdate(one, id);
      // The hybrid model (reward-model.ts) takes these as the arm's predictive before either part's update.
      expect(split.stepMean).toBeCloseTo(mean[0]!, 12);
      expect(split.stepVariance).toBeCloseTo(variance[0]!, 12);
      const y = rng.next();
      split.finishUpdate(y, "gaussian", 0.25, 1);
      whole.update(one, id, y, "gaussian", 0.25, 1);
    }
    expect(split.snapshot()).toEqual(whole.snapshot());
  });

  it("syncs the serving copy to the learner for changed arms only, freezes it until the next sync, and keeps both through a snapshot", () => {
    const rng = new Xoshiro128(17);
    const items = catalog(rng, 6);
    const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: true });
    const g = new DisjointGaussian(D, PRIOR, 100, true);
    const learnOn = (c: number, t: number) => {
      const input = request(rng, items, t);
      g.update(
        enc.encode({ context: input.context, candidates: [input.candidates[c]!] }),
        `i${c}`,
        rng.next(),
        "gaussian",
        0.25,
        1,
      );
    };
    for (let t = 0; t < 30; t++) learnOn(t % 5, t); // i5 never learns
    expect(posteriors(g.snapshot(), true).size).toBe(0); // nothing synced yet: serving reads the prior
    g.syncServing();
    const synced = posteriors(g.snapshot(), true);
    expect(synced).toEqual(posteriors(g.snapshot(), false));
    expect([...synced.keys()].sort()).toEqual(["i0", "i1", "i2", "i3", "i4"]);
    // Only i1 and i3 move: their serving copies stay as synced, the others still equal their learners.
    for (let t = 0; t < 6; t++) learnOn(t % 2 === 0 ? 1 : 3, t);
    const learner = posteriors(g.snapshot(), false);
    expect(posteriors(g.snapshot(), true)).toEqual(synced);
    expect(learner.get("i1")).not.toEqual(synced.get("i1"));
    expect(learner.get("i0")).toEqual(synced.get("i0"));
    // A snapshot keeps the learner, the frozen serving copy, and which arms differ (restored, they sync the same).
    const restored = DisjointGaussian.restore(g.snapshot(), 100, true);
    expect(restored.snapshot()).toEqual(g.snapshot());
    g.syncServing();
    restored.syncServing();
    expect(posteriors(g.snapshot(), true)).toEqual(learner);
    expect(restored.snapshot()).toEqual(g.snapshot());
  });

  it("keeps the covariance exactly symmetric and matches a full Sherman–Morrison step", () => {
    const rng = new Xoshiro128(5);
    const items = catalog(rng, 3);
    const enc = new FeatureEncoder({ dims: D, interactions: false, id: false, score: true });
    const g = new DisjointGaussian(D, PRIOR, 10, false);
    for (let t = 0; t < 30; t++) {
      const input = request(rng, items, t);
      const one = enc.encode({ context: input.context, candidates: [input.candidates[0]!] });
      const before = posteriors(g.snapshot(), false).get("i0");
      const y = rng.next();
      g.update(one, "i0", y, "gaussian", 0.25, 1);
      const after = posteriors(g.snapshot(), false).get("i0")!;
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) expect(after.cov[i * D + j]).toBe(after.cov[j * D + i]);
      // Σ' = Σ − Σx xᵀΣ / (σ² + xᵀΣx), μ' = μ + Σx (y − xᵀμ) / (σ² + xᵀΣx) (Bishop 2006, §3.3).
      const x = new Float64Array(D);
      for (let j = 0; j < one.sharedLen; j++) x[one.sharedIdx[j]!] = x[one.sharedIdx[j]!]! + one.sharedVal[j]!;
      for (let j = one.offsets[0]!; j < one.offsets[1]!; j++) x[one.idx[j]!] = x[one.idx[j]!]! + one.val[j]!;
      const cov = before?.cov ?? Float64Array.from({ length: D * D }, (_, k) => (k % (D + 1) === 0 ? PRIOR : 0));
      const mu = before?.mu ?? new Float64Array(D);
      const sx = new Float64Array(D);
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) sx[i] = sx[i]! + cov[i * D + j]! * x[j]!;
      let s = 0.25;
      let m = 0;
      for (let i = 0; i < D; i++) {
        s += x[i]! * sx[i]!;
        m += x[i]! * mu[i]!;
      }
      for (let i = 0; i < D; i++) {
        expect(after.mu[i]).toBeCloseTo(mu[i]! + (sx[i]! * (y - m)) / s, 10);
        for (let j = 0; j < D; j++)
          expect(after.cov[i * D + j]).toBeCloseTo(cov[i * D + j]! - (sx[i]! * sx[j]!) / s, 10);
      }
    }
  });

  it("syncs by handing the learner's arrays to serving: the learner moves exactly as with no serving copy", () => {
    const rng = new Xoshiro128(23);
    const plain = new DisjointGaussian(D, PRIOR, 100, false);
    let g = new DisjointGaussian(D, PRIOR, 100, true);
    let lastSync = posteriors(g.snapshot(), false);
    for (let t = 0; t < 200; t++) {
      // Sparse x (a few slots: rows with u_i = 0 are copied unchanged) or dense; three arms.
      const slots = t % 3 === 0 ? Array.from({ length: D }, (_, i) => i) : [t % D, (t * 5 + 2) % D];
      const enc = {
        n: 1,
        sharedIdx: Int32Array.from(slots),
        sharedVal: Float64Array.from(slots, () => rng.next() * 2 - 1),
        sharedLen: slots.length,
        idx: new Int32Array(0),
        val: new Float64Array(0),
        offsets: new Int32Array(2),
      } as unknown as EncodedInput;
      const arm = `a${t % 3}`;
      const y = rng.next();
      plain.update(enc, arm, y, "gaussian", 0.25, 1);
      g.update(enc, arm, y, "gaussian", 0.25, 1);
      // Serving stays what the last sync saw, whatever the learner did since.
      expect(posteriors(g.snapshot(), true)).toEqual(lastSync);
      const r = rng.next();
      if (r < 0.4) {
        g.syncServing();
        lastSync = posteriors(g.snapshot(), false);
      } else if (r < 0.5) {
        g = DisjointGaussian.restore(g.snapshot(), 100, true); // arms sharing their arrays restore shared
      }
      expect(posteriors(g.snapshot(), false)).toEqual(posteriors(plain.snapshot(), false));
    }
  });

  it("after many updates equals the direct solve Σ = (I/p + XᵀX/σ²)⁻¹, μ = ΣXᵀy/σ², on dense and sparse x", () => {
    const rng = new Xoshiro128(9);
    const noise = 0.25;
    const g = new DisjointGaussian(D, PRIOR, 10, false);
    const precision = new Float64Array(D * D);
    for (let i = 0; i < D; i++) precision[i * D + i] = 1 / PRIOR;
    const xty = new Float64Array(D);
    for (let t = 0; t < 60; t++) {
      // Alternately dense (every slot: one pass over the packed triangle) and sparse (3 slots: row by row).
      const slots = t % 2 === 0 ? Array.from({ length: D }, (_, i) => i) : [t % D, (t * 7 + 3) % D, (t * 5 + 1) % D];
      const idx = Int32Array.from(slots);
      const val = Float64Array.from(slots, () => rng.next() * 2 - 1);
      const enc = {
        n: 1,
        sharedIdx: idx,
        sharedVal: val,
        sharedLen: idx.length,
        idx: new Int32Array(0),
        val: new Float64Array(0),
        offsets: new Int32Array(2),
      } as unknown as EncodedInput;
      const y = rng.next() * 3 - 1;
      g.update(enc, "arm", y, "gaussian", noise, 1);
      const x = new Float64Array(D);
      slots.forEach((i, k) => {
        x[i] = x[i]! + val[k]!;
      });
      for (let i = 0; i < D; i++) {
        xty[i] = xty[i]! + (x[i]! * y) / noise;
        for (let j = 0; j < D; j++) precision[i * D + j] = precision[i * D + j]! + (x[i]! * x[j]!) / noise;
      }
    }
    const cov = invert(precision, D);
    const got = posteriors(g.snapshot(), false).get("arm")!;
    for (let i = 0; i < D; i++) {
      let mu = 0;
      for (let j = 0; j < D; j++) mu += cov[i * D + j]! * xty[j]!;
      expect(Math.abs(got.mu[i]! - mu)).toBeLessThan(1e-9);
      for (let j = 0; j < D; j++) expect(Math.abs(got.cov[i * D + j]! - cov[i * D + j]!)).toBeLessThan(1e-9);
    }
  });
});

/** Gauss–Jordan inverse with partial pivoting of a small dense matrix (row-major). */
function invert(a: Float64Array, d: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r * d + c]!) > Math.abs(m[p * d + c]!)) p = r;
    for (let k = 0; k < d; k++) {
      [m[c * d + k], m[p * d + k]] = [m[p * d + k]!, m[c * d + k]!];
      [inv[c * d + k], inv[p * d + k]] = [inv[p * d + k]!, inv[c * d + k]!];
    }
    const pivot = m[c * d + c]!;
    for (let k = 0; k < d; k++) {
      m[c * d + k] = m[c * d + k]! / pivot;
      inv[c * d + k] = inv[c * d + k]! / pivot;
    }
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r * d + c]!;
      if (f === 0) continue;
      for (let k = 0; k < d; k++) {
        m[r * d + k] = m[r * d + k]! - f * m[c * d + k]!;
        inv[r * d + k] = inv[r * d + k]! - f * inv[c * d + k]!;
      }
    }
  }
  return inv;
}
