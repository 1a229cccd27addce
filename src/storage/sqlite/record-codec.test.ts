import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../decisions/decision-record.js";
import { makeDecision, realisticDecision } from "../../decisions/test-fixtures.js";
import { decodeRecord, encodeRecord } from "./record-codec.js";

const bits = (values: readonly number[]) => Array.from(new Uint8Array(Float64Array.from(values).buffer));

describe("compact decision record", () => {
  it("round-trips a record whole, probabilities bit for bit (-0, NaN, Infinity included)", () => {
    const record = makeDecision({
      candidates: [
        { id: "a", features: { price: 10, brand: "acme", sale: true, gone: false }, score: 0.25 },
        { id: "b" },
        { id: "😀 ü", features: {} },
      ],
      slots: [
        { position: 0, itemId: "b", index: 1, propensity: 0.1 + 0.2, probabilities: [-0, 0.1 + 0.2, Number.NaN] },
        { position: 3, itemId: "a", index: 0, propensity: 1, probabilities: [1, 0, 0, 0, 0, 0, 0, Infinity] },
      ],
      rollout: { id: "r1", stage: 1, arm: "incumbent" },
      activatedAt: 5,
    });
    const decoded = decodeRecord(encodeRecord(record));
    expect(decoded).toEqual(record);
    expect(Object.keys(decoded)).toEqual(Object.keys(record)); // export prints the same key order
    decoded.slots.forEach((slot, k) => {
      expect(bits(slot.probabilities)).toEqual(bits(record.slots[k]?.probabilities ?? []));
    });
  });

  it("keeps shapes the binary layout does not cover as JSON, exactly", () => {
    const record = {
      ...makeDecision(),
      candidates: [{ id: "a", extra: [1, 2] }],
      slots: [{ position: 0, itemId: "a", index: 0, propensity: 1, probabilities: [null], note: "v0" }],
    } as unknown as DecisionRecord;
    expect(decodeRecord(encodeRecord(record))).toEqual(record);
  });

  it("stores a realistic decision in well under half its JSON size, and decodes parts on request", () => {
    const record = realisticDecision(1);
    const bytes = encodeRecord(record);
    const json = Buffer.byteLength(JSON.stringify(record));
    expect(bytes.length).toBeLessThan(json / 2);
    expect(decodeRecord(bytes)).toEqual(record);
    const narrow = decodeRecord(bytes, { candidateFeatures: false, probabilities: false });
    expect(narrow.candidates.map((c) => c.id)).toEqual(record.candidates.map((c) => c.id));
    expect(narrow.candidates[0]?.features).toBeUndefined();
    expect(narrow.slots.map((s) => [s.itemId, s.propensity])).toEqual(
      record.slots.map((s) => [s.itemId, s.propensity]),
    );
  });

  it("stores mostly-zero distributions sparsely", () => {
    const withDistribution = (p: (j: number) => number) =>
      makeDecision({
        candidates: Array.from({ length: 100 }, (_, j) => ({ id: `i${j}` })),
        slots: [
          {
            position: 0,
            itemId: "i3",
            index: 3,
            propensity: p(3),
            probabilities: Array.from({ length: 100 }, (_, j) => p(j)),
          },
        ],
      });
    const greedy = withDistribution((j) => (j === 3 ? 1 : 0));
    const uniform = withDistribution(() => 0.01);
    const sparse = encodeRecord(greedy);
    // 99 zeros not stored: ~8 bytes each.
    expect(encodeRecord(uniform).length - sparse.length).toBeGreaterThan(99 * 7);
    expect(decodeRecord(sparse)).toEqual(greedy);
  });

  it("refuses bytes that are not a record", () => {
    expect(() => decodeRecord(new Uint8Array([1, 2, 3]))).toThrow(/not a compact record/);
    expect(() => decodeRecord(encodeRecord(makeDecision()).subarray(0, 20))).toThrow();
  });
});
