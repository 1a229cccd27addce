import { describe, expect, it } from "vitest";
import { DEFAULT_JOIN } from "../decisions/join-config.js";
import { realisticDecision } from "../decisions/test-fixtures.js";
import { positionOf, propensityOf, slotCount, WindowPacker, type WindowSource } from "./pending-window.js";
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
    profile: { visits: 3, returning: true, tier: "gold" },
  };
}

/** The shown candidates of a source, in slot order, as the policy saw them. */
function shown(src: WindowSource) {
  return src.slots.map((slot) => {
    const c = src.input.candidates[slot.index]!;
    return { id: c.id, features: c.features, ...(c.score === undefined ? {} : { score: c.score }) };
  });
}

describe("a packed window", () => {
  it("gives back the shown candidates, context, profile, propensities and positions exactly", () => {
    const packer = new WindowPacker();
    const src = sourceOf(7);
    src.input.context = { device: "mobile", hour: 13, night: false, ratio: 0.1 + 0.2 };
    const w = packer.pack(src, DEFAULT_JOIN);
    const input = packer.inputOf(w);
    expect(
      input.candidates.map((c) => ({
        id: c.id,
        features: c.features,
        ...(c.score === undefined ? {} : { score: c.score }),
      })),
    ).toEqual(shown(src));
    expect(Object.entries(input.context)).toEqual(Object.entries(src.input.context)); // key order kept
    expect(input.profile).toEqual(src.profile);
    expect(packer.policyOf(w)).toBe(src.policyId);
    expect(slotCount(w)).toBe(src.slots.length);
    src.slots.forEach((slot, s) => {
      expect(propensityOf(w, s)).toBe(slot.propensity);
      expect(positionOf(w, s)).toBe(slot.position);
    });
    expect(packer.inputOf(w, 3).candidates.map((c) => c.id)).toEqual(src.slots.slice(0, 3).map((s) => s.itemId));
  });

  it("holds each shared value once across windows and frees it with the last window holding it", () => {
    const packer = new WindowPacker();
    const windows = Array.from({ length: 40 }, (_, i) => packer.pack(sourceOf(i), DEFAULT_JOIN));
    const items = new Set(windows.flatMap((w) => packer.itemIds(w)));
    // item ids, the policy id, the category and profile strings, each once however many windows show them
    expect(packer.sharedValues).toBeLessThan(items.size + 30);
    expect(packer.sharedValues).toBeGreaterThanOrEqual(items.size + 1);
    windows.forEach((w, i) => {
      expect(packer.itemIds(w)).toEqual(sourceOf(i).slots.map((s) => s.itemId));
    });
    for (const w of windows.slice(0, 20)) packer.release(w);
    windows.slice(20).forEach((w, i) => {
      expect(shown({ ...sourceOf(i + 20) })).toEqual(
        packer.inputOf(w).candidates.map((c) => ({ id: c.id, features: c.features })),
      );
    });
    for (const w of windows.slice(20)) packer.release(w);
    expect(packer.sharedValues).toBe(0);
  });

  it("keeps a plain copy of a map whose shape is past the bound, and round-trips it", () => {
    const packer = new WindowPacker();
    const srcs = Array.from({ length: 1100 }, (_, i) => {
      const src = sourceOf(i);
      src.input.context = { [`key${i}`]: i, device: "mobile" }; // a new shape per window
      return src;
    });
    const windows = srcs.map((src) => packer.pack(src, DEFAULT_JOIN));
    const last = srcs.at(-1)!;
    const input = packer.inputOf(windows.at(-1)!);
    expect(input.context).toEqual(last.input.context);
    expect(input.context).not.toBe(last.input.context); // the request's object is not kept
    for (const w of windows) packer.release(w);
    expect(packer.sharedValues).toBe(0);
  });
});
