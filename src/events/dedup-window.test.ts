import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DedupWindow } from "./dedup-window.js";

/** The window as a plain list: the last `cap` keys added, oldest first; rollbacks pop the newest. */
class ModelWindow {
  readonly keys: string[] = [];
  added = 0;
  constructor(private readonly cap: number) {}
  add(key: string): boolean {
    if (this.keys.includes(key)) return false;
    this.keys.push(key);
    if (this.keys.length > this.cap) this.keys.shift();
    this.added++;
    return true;
  }
  rollbackTo(mark: number): void {
    let n = Math.min(this.added - mark, this.keys.length);
    this.added = mark;
    while (n-- > 0) this.keys.pop();
  }
}

type Op = { kind: "add"; hi: number; lo: number } | { kind: "mark" } | { kind: "rollback"; depth: number };

/**
 * Hashes from a small range, so many share their low bits: long probe runs, wrapping ones, deletions inside them.
 * The high half is never 0 here: 0,0 (the empty slot) shares 0,1 on purpose.
 */
const smallHash = fc.integer({ min: 0, max: 40 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant("add" as const), hi: fc.integer({ min: 1, max: 3 }), lo: smallHash }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "mark" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rollback" as const), depth: fc.nat(3) }) },
);

describe("DedupWindow (the last N event ids, by 64-bit hash)", () => {
  it("holds exactly the last `cap` distinct keys added and not rolled back, every one findable", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { maxLength: 400 }),
        (cap, initial, ops) => {
          const window = new DedupWindow(cap, initial);
          const model = new ModelWindow(cap);
          const marks: number[] = [];
          for (const o of ops) {
            if (o.kind === "add") {
              expect(window.add(o.hi, o.lo)).toBe(model.add(`${o.hi}:${o.lo}`));
            } else if (o.kind === "mark") {
              const mark = window.mark();
              expect(mark).toBe(model.added);
              marks.push(mark);
            } else if (marks.length > 0) {
              // Marks nest like savepoints: rolling back to one drops those taken after it.
              const at = Math.max(0, marks.length - 1 - o.depth);
              const mark = marks[at] as number;
              marks.length = at;
              window.rollbackTo(mark);
              model.rollbackTo(mark);
            }
            expect(window.size).toBe(model.keys.length);
          }
          for (let hi = 1; hi <= 3; hi++) {
            for (let lo = 0; lo <= 40; lo++) expect(window.has(hi, lo)).toBe(model.keys.includes(`${hi}:${lo}`));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("evicts the oldest id at the cap, first in first out", () => {
    const window = new DedupWindow(3);
    for (const id of ["a", "b", "c"]) expect(window.addId(id)).toBe(true);
    expect(window.addId("a")).toBe(false); // a duplicate does not refresh its place
    expect(window.addId("d")).toBe(true); // pushes out "a", the oldest
    expect(["a", "b", "c", "d"].map((id) => window.hasId(id))).toEqual([false, true, true, true]);
    expect(window.addId("a")).toBe(true); // beyond the window: fresh again, and "b" leaves
    expect(["a", "b", "c", "d"].map((id) => window.hasId(id))).toEqual([true, false, true, true]);
    expect(window.size).toBe(3);
  });

  it("grows by doubling up to the cap and keeps every id through each growth", () => {
    const window = new DedupWindow(100_000, 16);
    const small = window.bytes;
    const ids = Array.from({ length: 100_000 }, (_, i) => `evt_${i.toString(36)}-${(i * 7919) % 100_003}`);
    for (const id of ids) expect(window.addId(id)).toBe(true);
    expect(window.size).toBe(100_000);
    expect(ids.every((id) => window.hasId(id))).toBe(true);
    expect(ids.every((id) => !window.addId(id))).toBe(true);
    // Ring at the cap (8 bytes an id) and a table at most half full (16-32): ~25 bytes an id, not more than 40.
    expect(window.bytes).toBeGreaterThan(small);
    expect(window.bytes / window.size).toBeLessThanOrEqual(40);
    window.addId("one more");
    expect(window.hasId(ids[0] as string)).toBe(false);
    expect(window.hasId(ids[1] as string)).toBe(true);
  });

  it("grows ahead when asked, once three quarters full, and not past the cap", () => {
    const window = new DedupWindow(10, 4);
    for (const id of ["a", "b"]) window.addId(id);
    expect(window.growIfNear()).toBe(false); // 2 of 4
    window.addId("c");
    const before = window.bytes;
    expect(window.growIfNear()).toBe(true); // 3 of 4: to 8
    expect(window.bytes).toBeGreaterThan(before);
    expect(["a", "b", "c"].every((id) => window.hasId(id))).toBe(true);
    for (const id of ["d", "e", "f"]) window.addId(id);
    expect(window.growIfNear()).toBe(true); // 6 of 8: to the cap, 10
    for (const id of ["g", "h", "i", "j"]) window.addId(id);
    expect(window.growIfNear()).toBe(false);
    expect(window.size).toBe(10);
  });

  it("rolls back the newest ids only, and a rollback past evictions does not bring the evicted back", () => {
    const window = new DedupWindow(4);
    for (const id of ["a", "b", "c"]) window.addId(id);
    const mark = window.mark();
    for (const id of ["d", "e", "f"]) window.addId(id); // "e" and "f" push out "a" and "b"
    window.rollbackTo(mark);
    expect(["a", "b", "c", "d", "e", "f"].map((id) => window.hasId(id))).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    expect(window.size).toBe(1);
    expect(window.addId("d")).toBe(true);
  });

  it("tells when its oldest id arrived, to the stamps' resolution", () => {
    const window = new DedupWindow(3);
    expect(window.oldestAt()).toBeUndefined();
    window.stamp(1_000);
    window.addId("a");
    window.stamp(1_500); // within a second of the last stamp: not noted
    window.addId("b");
    window.stamp(2_000);
    window.addId("c");
    expect(window.oldestAt()).toBe(1_000);
    window.stamp(3_000);
    window.addId("d"); // "a" leaves; "b" arrived before the 2,000 stamp, so after 1,000
    expect(window.oldestAt()).toBe(1_000);
    window.addId("e"); // "b" leaves; "c" arrived at 2,000
    expect(window.oldestAt()).toBe(2_000);
  });

  it("refuses a window that is not a positive integer", () => {
    expect(() => new DedupWindow(0)).toThrow(/positive integer/);
    expect(() => new DedupWindow(1.5)).toThrow(/positive integer/);
  });
});
