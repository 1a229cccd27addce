import { describe, expect, it } from "vitest";
import { DEFAULT_JOIN } from "../decisions/join-config.js";
import { realisticDecision } from "../decisions/test-fixtures.js";
import { FeatureShapes, inputOf, packWindow, type WindowSource } from "./pending-window.js";
import { policyInputOf } from "./rank.js";

function sourceOf(i: number): WindowSource {
  const record = realisticDecision(i);
  return {
    decisionId: record.decisionId,
    policyId: record.policy.id,
    decidedAt: record.timestamp,
    activatedAt: record.timestamp,
    slots: record.slots,
    input: policyInputOf(record),
    profile: undefined,
  };
}

/** What a string costs on the heap in the learner's estimate (app/learning-bytes.ts). */
const stringBytes = (s: string) => (16 + s.length + 7) & ~7;

describe("open windows share item ids", () => {
  it("count an interned id once for all windows, and past the bound count each window's own copy", () => {
    const source = sourceOf(7);
    const ids = source.slots.map((s) => s.itemId);
    const shared = packWindow(source, DEFAULT_JOIN, new FeatureShapes());
    const own = packWindow(source, DEFAULT_JOIN, new FeatureShapes(0));
    expect(own.bytes - shared.bytes).toBe(ids.reduce((sum, id) => sum + stringBytes(id), 0));
    // Either way the window gives back the same update input: the shown items, in slot order.
    expect(inputOf(shared)).toEqual(inputOf(own));
    expect(inputOf(shared).candidates.map((c) => c.id)).toEqual(ids);
  });

  it("keeps at most its bound of ids, and ids past it still round-trip", () => {
    const shapes = new FeatureShapes(25);
    const windows = Array.from({ length: 40 }, (_, i) => packWindow(sourceOf(i), DEFAULT_JOIN, shapes));
    const seen = new Set(windows.flatMap((w) => w.itemIds));
    expect(seen.size).toBeGreaterThan(25);
    expect([...seen].filter((id) => shapes.isShared(id))).toHaveLength(25);
    windows.forEach((w, i) => {
      expect(inputOf(w).candidates.map((c) => c.id)).toEqual(sourceOf(i).slots.map((s) => s.itemId));
    });
  });
});
