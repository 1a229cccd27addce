import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OpenWindow } from "../app/learning.js";
import type { FeatureMap } from "../core/types.js";
import { type AwaitingDecision, JoinColumnsWriter, readJoinColumns, readJoinColumnsInSlices } from "./join-columns.js";

function window(id: string, overrides: Partial<OpenWindow["source"]> = {}, state?: OpenWindow["state"]): OpenWindow {
  const profile: FeatureMap = { visits: 3, segment: "new" };
  return {
    source: {
      decisionId: id,
      policyId: "p",
      decidedAt: 1_000,
      activatedAt: 1_500,
      slots: [
        { itemId: "a", index: 0, position: 0, propensity: 0.25 },
        { itemId: "b", index: 1, position: 1, propensity: 0.1 },
      ],
      input: {
        context: { device: "mobile", hour: 7, returning: true },
        candidates: [{ id: "a", features: { price: 9.5, brand: "x" }, score: 0.3 }, { id: "b" }],
        profile,
      },
      profile,
      ...overrides,
    },
    state,
  };
}

function roundTrip(windows: OpenWindow[], awaiting: [string, AwaitingDecision][] = [], seen: [string, number][] = []) {
  const writer = new JoinColumnsWriter();
  writer.addWindows(windows.slice(0, 1));
  writer.addWindows(windows.slice(1)); // in batches, as the join feeds it
  writer.addAwaiting(awaiting);
  writer.addSeen(seen);
  return readJoinColumns(structuredClone(writer.done()));
}

describe("the join's state as columns", () => {
  it("gives back every window, deferred decision and seen id as they were, numbers to the bit", () => {
    const windows = [
      window("d1"),
      window("d2\ud800é", { profile: undefined, input: { context: {}, candidates: [] } }, undefined),
      window(
        "d3",
        { decidedAt: -0, activatedAt: Number.NaN },
        {
          closesAt: Number.POSITIVE_INFINITY,
          active: false,
          closed: true,
          slots: [
            { itemId: "a", position: 0, count: 2, value: -0, learned: true },
            { itemId: "b", position: 1, count: 0, value: 0.1 + 0.2, learned: false },
          ],
          rewardIds: ["r1", "", "r🎉"],
        },
      ),
    ];
    // A profile of the input's own (not the source's), and a key "__proto__" that must stay a key.
    const own = JSON.parse('{"__proto__": 1, "z": false}') as FeatureMap;
    windows.push(window("d4", { input: { context: { b: 1, a: 2 }, candidates: [], profile: own } }));
    const awaiting: [string, AwaitingDecision][] = [
      ["w1", { timestamp: 5, bytes: new Uint8Array([1, 2, 3]) }],
      ["w2", { timestamp: 6, bytes: new Uint8Array() }],
    ];
    const seen: [string, number][] = [
      ["d1", 9e15],
      ["d0", -1],
    ];
    const back = roundTrip(windows, awaiting, seen);
    expect(back).toEqual({ windows, awaiting, seen });
    expect(Object.is(back.windows[2]!.source.decidedAt, -0)).toBe(true);
    expect(Object.is(back.windows[2]!.state!.slots[0]!.value, -0)).toBe(true);
    expect(Object.keys(back.windows[3]!.source.input.context)).toEqual(["b", "a"]); // the order features hash in
    expect(Object.keys(back.windows[3]!.source.input.profile!)).toEqual(["__proto__", "z"]);
    expect(back.windows[0]!.source.input.profile).toBe(back.windows[0]!.source.profile); // shared, as the loop gives
    expect(back.windows[1]!.source.input.profile).toBeUndefined();
  });

  it("round-trips any feature maps (property)", () => {
    const value = fc.oneof(fc.double(), fc.string(), fc.boolean());
    const features = fc.option(fc.dictionary(fc.string(), value), { nil: undefined });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.dictionary(fc.string(), value), features, fc.option(fc.double())), {
          maxLength: 6,
        }),
        (rows) => {
          const windows = rows.map(([context, f, score], i) =>
            window(`d${i}`, {
              input: {
                context,
                candidates: [{ id: `c${i}`, ...(f ? { features: f } : {}), ...(score === null ? {} : { score }) }],
              },
              profile: undefined,
            }),
          );
          const back = roundTrip(windows);
          expect(back.windows).toEqual(windows);
          back.windows.forEach((w, i) => {
            expect(Object.keys(w.source.input.context)).toEqual(Object.keys(windows[i]!.source.input.context));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("reads the same in slices, pausing between them", async () => {
    const writer = new JoinColumnsWriter();
    const windows = [window("d1"), window("d2"), window("d3")];
    writer.addWindows(windows);
    writer.addSeen([["d1", 5]]);
    const columns = writer.done();
    let pauses = 0;
    const sliced = await readJoinColumnsInSlices(columns, async () => void pauses++, 2);
    expect(pauses).toBe(1);
    expect(sliced).toEqual(readJoinColumns(columns));
    expect(sliced.windows).toEqual(windows);
  });

  it("refuses columns that do not add up instead of misreading them", () => {
    const writer = new JoinColumnsWriter();
    writer.addWindows([window("d1")]);
    const columns = writer.done();
    expect(() => readJoinColumns({ ...columns, windows: 2 })).toThrow(/end early/);
    expect(() => readJoinColumns({ ...columns, nums: new Float64Array([...columns.nums, 1]) })).toThrow(/add up/);
  });
});
