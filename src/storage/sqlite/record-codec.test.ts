import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { codeDictionary, FactsBuilder, type FactsSource } from "../../decisions/decision-facts.js";
import {
  type DecisionRecord,
  type LoggedCandidate,
  type LoggedSlot,
  withPlainDistributions,
} from "../../decisions/decision-record.js";
import { makeDecision, realisticDecision } from "../../decisions/test-fixtures.js";
import { decodeRecord, encodeRecord, readFactsSource, readShownSlots } from "./record-codec.js";

const bits = (values: ArrayLike<number>) => Array.from(new Uint8Array(Float64Array.from(values).buffer));

/** Distinct values spread over (0, 1): no palette, no sparse form. */
const spreadOut = (n: number) => Array.from({ length: n }, (_, j) => (j + 1) / ((n * (n + 1)) / 2));

/** The facts one decision gives (decision-facts.ts). */
function factsOf(source: FactsSource) {
  const builder = new FactsBuilder(codeDictionary());
  builder.add(source, 1);
  return builder.finish();
}

/** Records as version 2 wrote them (spec/decision-record/version-2.json says which). */
const version2 = JSON.parse(
  readFileSync(new URL("../../../spec/decision-record/version-2.json", import.meta.url), "utf8"),
) as Record<"realistic3" | "realistic5", string>;
const v2Bytes = (name: "realistic3" | "realistic5") => new Uint8Array(Buffer.from(version2[name], "base64"));

/**
 * The same record as version 1 wrote it (before the head section and palettes): version byte 1, the head
 * (a 1-byte length and 8 bytes) removed. Only for records without palettes (distributions of many values).
 */
function asVersion1(bytes: Uint8Array): Uint8Array {
  expect(bytes[1]).toBe(2);
  expect(bytes[2]).toBe(8);
  const out = new Uint8Array(bytes.length - 9);
  out[0] = bytes[0] as number;
  out[1] = 1;
  out.set(bytes.subarray(11), 2);
  return out;
}

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
    // 100 distinct values: neither sparse nor a palette, dense.
    const spread = withDistribution((j) => (j + 1) / 5050);
    const sparse = encodeRecord(greedy);
    // 99 zeros not stored: ~8 bytes each.
    expect(encodeRecord(spread).length - sparse.length).toBeGreaterThan(99 * 7);
    expect(decodeRecord(encodeRecord(spread))).toEqual(spread);
    expect(decodeRecord(sparse)).toEqual(greedy);
  });

  it("stores a distribution of few distinct values as a palette, bit for bit (-0 and 0 apart)", () => {
    // Thompson's shape: an exploration floor for most candidates, a few counts out of the pool, placed ones 0.
    const floor = 1 / 19_400;
    const thompson = Array.from({ length: 100 }, (_, j) =>
      j % 13 === 0 ? 0 : j % 7 === 0 ? floor + (j % 3) / 64 : j === 50 ? -0 : floor,
    );
    const record = makeDecision({
      candidates: Array.from({ length: 100 }, (_, j) => ({ id: `i${j}` })),
      slots: [{ position: 0, itemId: "i7", index: 7, propensity: thompson[7] as number, probabilities: thompson }],
    });
    const bytes = encodeRecord(record);
    const decoded = decodeRecord(bytes);
    expect(decoded).toEqual(record);
    expect(bits(decoded.slots[0]?.probabilities ?? [])).toEqual(bits(thompson));
    expect(Object.is(decoded.slots[0]?.probabilities[50], -0)).toBe(true);
    const dense = makeDecision({
      ...record,
      slots: [{ ...(record.slots[0] as LoggedSlot), probabilities: spreadOut(100) }],
    });
    // 100 entries in 4 bits and 5 distinct values, against 8 bytes an entry.
    expect(encodeRecord(dense).length - bytes.length).toBeGreaterThan(100 * 7);
  });

  it("encodes a rank's Float64Array distributions byte for byte as their plain arrays", () => {
    const plain = realisticDecision(2);
    plain.slots[1] = { ...(plain.slots[1] as LoggedSlot), probabilities: [0.25, 0.25, 0.5, ...new Array(97).fill(0)] };
    const live = {
      ...plain,
      slots: plain.slots.map((s) => ({ ...s, probabilities: Float64Array.from(s.probabilities) })),
    };
    expect(encodeRecord(live)).toEqual(encodeRecord(plain));
    expect(decodeRecord(encodeRecord(live))).toEqual(plain);
    expect(withPlainDistributions(live)).toEqual(plain);
    expect(withPlainDistributions(plain)).toBe(plain);
  });

  it("stores 17 distinct values (one past the palette) densely, exactly", () => {
    const values = Array.from({ length: 40 }, (_, j) => (j % 17) / 100);
    const record = makeDecision({
      candidates: Array.from({ length: 40 }, (_, j) => ({ id: `i${j}` })),
      slots: [{ position: 0, itemId: "i1", index: 1, propensity: 0.01, probabilities: values }],
    });
    const bytes = encodeRecord(record);
    expect(bytes.length).toBeGreaterThan(40 * 8);
    expect(decodeRecord(bytes)).toEqual(record);
  });

  it("reads the facts' view of a record without its JSON: the same facts as from the whole record (version 1 too)", () => {
    const record = { ...realisticDecision(3), activated: false };
    record.slots[4] = { ...(record.slots[4] as LoggedSlot), itemId: "not-a-candidate" };
    const columns = { timestamp: record.timestamp, policyId: record.policy.id, activated: true, activatedAt: 77 };
    const fromRecord = { ...record, activated: true, activatedAt: 77 };
    const bytes = encodeRecord(record);
    const v2 = v2Bytes("realistic3");
    expect(decodeRecord(v2)).toEqual(record);
    for (const b of [bytes, v2, asVersion1(v2)]) {
      expect(factsOf(readFactsSource(b, columns))).toEqual(factsOf(fromRecord));
    }
    expect(factsOf(readFactsSource(bytes, { ...columns, activated: false, activatedAt: null }))).toEqual(
      factsOf({ ...record, activated: false }),
    );
    // Distributions of few values (palettes) and a slot without one.
    const coarse = {
      ...fromRecord,
      slots: fromRecord.slots.map((slot, k) =>
        k === 1
          ? { ...slot, probabilities: undefined }
          : { ...slot, probabilities: slot.probabilities.map((p) => Math.round(p * 64) / 64) },
      ),
    } as DecisionRecord;
    expect(factsOf(readFactsSource(encodeRecord(coarse), columns))).toEqual(factsOf(coarse));
  });

  it("reads the shown slots (position, item id) alone, inline item ids and JSON slots included", () => {
    const record = realisticDecision(5);
    record.slots[2] = { ...(record.slots[2] as LoggedSlot), itemId: "inline-item" };
    const shown = (r: DecisionRecord) => r.slots.map((s) => ({ position: s.position, itemId: s.itemId }));
    const bytes = encodeRecord(record);
    expect(readShownSlots(bytes)).toEqual(shown(record));
    expect(decodeRecord(v2Bytes("realistic5"))).toEqual(record);
    expect(readShownSlots(v2Bytes("realistic5"))).toEqual(shown(record));
    expect(readShownSlots(asVersion1(v2Bytes("realistic5")))).toEqual(shown(record));
    const odd = { ...makeDecision(), slots: [{ position: 0, itemId: "a", index: 0, propensity: 1, note: "x" }] };
    expect(readShownSlots(encodeRecord(odd as unknown as DecisionRecord))).toEqual([{ position: 0, itemId: "a" }]);
  });

  it("codes feature numbers in their shortest exact form and a candidate's names once per run of equal keys", () => {
    const odd = [0, -0, 85.24, -12.5, 38, -3, 2 ** 53, -(2 ** 49), 1e-300, 1 / 3, 0.1 + 0.2, 1e21, 0.07, -0.01];
    const candidates: LoggedCandidate[] = [
      ...odd.map((v, j) => ({ id: `o${j}`, features: { v, tag: "x" } })),
      { id: "swapped", features: { tag: "y", v: 1 } },
      { id: "bare" },
      { id: "again", features: { tag: "z", v: 2.5 } },
      { id: "fewer", features: { tag: "z" } },
      { id: "more", features: { tag: "z", v: 0.5, extra: true } },
    ];
    const record = makeDecision({ candidates, slots: [] });
    const decoded = decodeRecord(encodeRecord(record));
    expect(decoded).toEqual(record);
    decoded.candidates.slice(0, odd.length).forEach((c, j) => {
      expect(Object.is(c.features?.v, odd[j])).toBe(true);
      expect(Object.keys(c.features ?? {})).toEqual(["v", "tag"]);
    });
    expect(Object.keys(decoded.candidates[odd.length]?.features ?? {})).toEqual(["tag", "v"]);
    // A request's candidates: a price in cents, a small integer and two strings, the same keys throughout.
    const request = (withFeatures: boolean) =>
      makeDecision({
        candidates: Array.from({ length: 100 }, (_, j) => ({
          id: `sku-${j}`,
          ...(withFeatures
            ? {
                features: {
                  category: `cat${j % 20}`,
                  price: Math.round(1000 + j * 37) / 100,
                  discount: j % 50,
                  badge: "none",
                },
              }
            : {}),
        })),
        slots: [],
      });
    const perCandidate = (encodeRecord(request(true)).length - encodeRecord(request(false)).length) / 100;
    // Float64 prices and discounts and a name ref per feature took ~27 bytes a candidate (version 2).
    expect(perCandidate).toBeLessThan(12);
    expect(decodeRecord(encodeRecord(request(true)))).toEqual(request(true));
  });

  it("refuses bytes that are not a record", () => {
    expect(() => decodeRecord(new Uint8Array([1, 2, 3]))).toThrow(/not a compact record/);
    expect(() => decodeRecord(encodeRecord(makeDecision()).subarray(0, 20))).toThrow();
  });
});
