import { describe, expect, it } from "vitest";
import { InteractionSums, type SumsSlot } from "./interaction-sums.js";

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
        expect(d[3 * i]).not.toBe(sums.tag);
        d.set([sums.tag, b + key, b - key], 3 * i);
      }
    }
    expect(new Set(blocks.map((b) => sums.indexOf(b))).size).toBe(blocks.length);
    for (const key of keys) {
      const col = sums.column(key);
      for (const [b, block] of blocks.entries()) {
        const at = 3 * sums.indexOf(block);
        expect([col.data[at], col.data[at + 1], col.data[at + 2]]).toEqual([sums.tag, b + key, b - key]);
      }
    }
    const before = sums.tag;
    sums.invalidate();
    expect(sums.tag).not.toBe(before);
    const i = sums.indexOf(blocks[5]!);
    expect(sums.column(7).data[3 * i]).not.toBe(sums.tag);
  });

  it("starts over at the next request past its entry bound, re-indexing blocks", () => {
    const sums = new InteractionSums(100);
    sums.begin();
    const blocks = Array.from({ length: 200 }, slot);
    const col = sums.column(1);
    for (const block of blocks) {
      const i = sums.indexOf(block);
      sums.dataFor(col, i)[3 * i] = sums.tag;
    }
    expect(sums.indexOf(blocks[199]!)).toBe(199); // no start over within a request
    sums.begin();
    const fresh = sums.column(1);
    expect(fresh).not.toBe(col);
    expect(sums.indexOf(blocks[199]!)).toBe(0);
    expect(fresh.data[0]).not.toBe(sums.tag);
  });
});
