import { describe, expect, it } from "vitest";
import { ArenaLayout } from "./arena-layout.js";
import { packedOffsets } from "./packed-symmetric.js";

/** Every position an arm's numbers take: μ by slot, Σ by slot pair (i ≤ j). */
function positions(layout: ArenaLayout): number[] {
  const out: number[] = [];
  for (let i = 0; i < layout.dims; i++) {
    out.push(layout.muAt[i]!);
    for (let j = i; j < layout.dims; j++) out.push(layout.position(i, j));
  }
  return out;
}

/** `requests` requests listing the slots in `always` and one of `sometimes` each. */
function listMany(layout: ArenaLayout, requests: number, always: number[], sometimes: number[]): void {
  const nz = new Int32Array(layout.dims);
  for (let r = 0; r < requests; r++) {
    always.forEach((s, a) => {
      nz[a] = s;
    });
    nz[always.length] = sometimes[r % sometimes.length]!;
    layout.noteListed(nz, always.length + 1);
  }
}

describe("ArenaLayout", () => {
  it("starts in slot order: μ_i just before Σ[i, i], rows packed one after the other", () => {
    const layout = new ArenaLayout(4, packedOffsets(4));
    expect(Array.from(layout.order)).toEqual([0, 1, 2, 3]);
    // Row i: μ_i, then Σ[i, i..3].
    expect(positions(layout)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(layout.position(2, 1)).toBe(layout.position(1, 2));
  });

  it("puts the slots most requests list last, so their μ and Σ block is the end of the arm, and stays a bijection", () => {
    const d = 64;
    const layout = new ArenaLayout(d, packedOffsets(d));
    const always = [3, 17, 40];
    const sometimes = Array.from({ length: 20 }, (_, i) => 44 + i);
    listMany(layout, 999, always, sometimes);
    expect(layout.update()).toBe(false); // not a look yet
    listMany(layout, 1, always, sometimes);
    expect(layout.update()).toBe(true);
    expect(layout.changes).toBe(1);
    // The three hot slots take the last three places; their 3 μ and 6 Σ entries are the arm's last 9 numbers.
    expect(always.map((s) => layout.order[s]!).sort()).toEqual([61, 62, 63]);
    const hotBlock = always.flatMap((i) => [layout.muAt[i]!, ...always.map((j) => layout.position(i, j))]);
    expect(new Set(hotBlock)).toEqual(new Set(Array.from({ length: 9 }, (_, k) => layout.stride - 9 + k)));
    // Every number still has a place of its own, inside the arm.
    const all = positions(layout);
    expect(new Set(all).size).toBe(all.length);
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBe(layout.stride - 1);
    // The same hot set at the next look: the layout stays (no rewrite); another one moves it.
    listMany(layout, 1000, always, sometimes);
    expect(layout.update()).toBe(false);
    listMany(layout, 1000, [3, 17, 41], sometimes);
    expect(layout.update()).toBe(true);
    expect(layout.order[41]).toBeGreaterThanOrEqual(61);
  });
});
