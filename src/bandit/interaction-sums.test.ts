import { describe, expect, it } from "vitest";
import { DEFAULT_ENCODER } from "./encoder-types.js";
import { InteractionSums, SUMS_STRIDE, type SumsSlot } from "./interaction-sums.js";
import type { PolicyInput } from "./policy.js";
import { RewardModel } from "./reward-model.js";

const slot = (): SumsSlot => ({ sumsOwner: undefined, sumsEra: -1, sumsIndex: -1 });

describe("InteractionSums", () => {
  it("keeps every block's entry in every key's column (growing past its first size) until invalidated", () => {
    const sums = new InteractionSums();
    sums.begin();
    const blocks = Array.from({ length: 300 }, slot);
    const keys = [0, -1, 7, Math.imul(5, 0x45d9f3b) | 0];
    for (const key of keys) {
      const col = sums.column(key);
      for (const [b, block] of blocks.entries()) {
        const i = sums.indexOf(block);
        const d = sums.dataFor(col, i);
        expect(d[SUMS_STRIDE * i]).not.toBe(sums.tag);
        d.set([sums.tag, b + key, b - key], SUMS_STRIDE * i);
      }
    }
    expect(new Set(blocks.map((b) => sums.indexOf(b))).size).toBe(blocks.length);
    for (const key of keys) {
      const col = sums.column(key);
      for (const [b, block] of blocks.entries()) {
        const at = SUMS_STRIDE * sums.indexOf(block);
        expect([col.data[at], col.data[at + 1], col.data[at + 2]]).toEqual([sums.tag, b + key, b - key]);
      }
    }
    const before = sums.tag;
    sums.invalidate();
    expect(sums.tag).not.toBe(before);
    const i = sums.indexOf(blocks[5]!);
    expect(sums.column(7).data[SUMS_STRIDE * i]).not.toBe(sums.tag);
  });

  it("starts over at the next request past its entry bound, re-indexing blocks", () => {
    const sums = new InteractionSums(100);
    sums.begin();
    const blocks = Array.from({ length: 200 }, slot);
    const col = sums.column(1);
    for (const block of blocks) {
      const i = sums.indexOf(block);
      sums.dataFor(col, i)[SUMS_STRIDE * i] = sums.tag;
    }
    expect(sums.indexOf(blocks[199]!)).toBe(199); // no start over within a request
    sums.begin();
    const fresh = sums.column(1);
    expect(fresh).not.toBe(col);
    expect(sums.indexOf(blocks[199]!)).toBe(0);
    expect(fresh.data[0]).not.toBe(sums.tag);
  });
});

describe("InteractionSums across a sync", () => {
  it("marks exactly the slots a sync changed, and carries only the previous generation", () => {
    const sums = new InteractionSums();
    expect(sums.carried).toBe(-1);
    sums.invalidate([3, 40, 2 ** 18 - 1], 2 ** 18);
    expect(sums.carried).toBe(sums.tag - 1);
    for (const k of [3, 40, 2 ** 18 - 1]) expect(sums.changedSlot(k)).toBe(true);
    for (const k of [0, 2, 4, 41, 1000]) expect(sums.changedSlot(k)).toBe(false);
    sums.invalidate([41], 2 ** 18);
    expect(sums.changedSlot(40)).toBe(false);
    expect(sums.changedSlot(41)).toBe(true);
    sums.invalidate();
    expect(sums.carried).toBe(-1);
    expect(sums.changedSlot(41)).toBe(false);
  });

  it("serves the same bits as sums computed afresh, after syncs that move some of the slots blocks read", () => {
    const spec = {
      model: "shared" as const,
      priorVariance: 0.01,
      noiseVariance: 0.25,
      armDims: 8,
      maxArms: 10,
      likelihood: "gaussian" as const,
      serving: true,
    };
    const features = { ...DEFAULT_ENCODER, dims: 2 ** 12, interactions: true, id: false, numeric: "symlog" as const };
    // Few catalog objects (reused blocks, so their sums are cached) and few contexts: updates move slots some of
    // the cached entries read, and not others.
    const catalog = Array.from({ length: 6 }, (_, i) => ({ category: `c${i % 3}`, price: i + 1 }));
    const inputOf = (r: number): PolicyInput => ({
      context: { device: r % 2 ? "mobile" : "desktop", hour: r % 5 },
      candidates: catalog.map((features, i) => ({ id: `i${i}`, features })),
    });
    const served = new RewardModel(spec, features);
    const late = new RewardModel(spec, features);
    for (let r = 0; r < 60; r++) {
      const input = inputOf(r);
      served.predictReused(input, true, true);
      for (const model of [served, late]) model.update(input, r % 6, r % 3 === 0 ? 1 : 0, 1);
      if (r % 4 === 3) {
        served.syncServing();
        late.syncServing();
        // The late model predicts only now, so every one of its sums is computed in this generation; the served
        // one carries most of its entries over from the last.
        const a = served.predictReused(inputOf(r + 1), true, true);
        const am = Array.from(a.mean);
        const av = Array.from(a.variance);
        const b = late.predictReused(inputOf(r + 1), true, true);
        expect(Array.from(b.mean)).toEqual(am);
        expect(Array.from(b.variance)).toEqual(av);
      }
    }
  });
});
