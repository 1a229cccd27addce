import { describe, expect, it } from "vitest";
import { buildDataset, compareIds, sessionsFromClicks } from "./session-dataset.js";

describe("buildDataset", () => {
  const data = buildDataset([
    { id: "7", items: ["10", "2", "10"], end: 5 },
    { id: "12", items: ["2", "3"], end: 9 },
    { id: "9", items: ["3", "10"], end: 9 },
  ]);
  const ids = (xs: ArrayLike<number>) => Array.from(xs, (i) => data.itemIds[i]);
  const sessionItems = (s: number) => ids(data.seqItems.subarray(data.seqOffsets[s], data.seqOffsets[s + 1]));

  it("numbers sessions by recency: end desc, then id desc as integers", () => {
    expect([0, 1, 2].map(sessionItems)).toEqual([
      ["2", "3"],
      ["3", "10"],
      ["10", "2", "10"],
    ]);
    expect(Array.from(data.sessionEnd)).toEqual([9, 9, 5]);
  });

  it("keeps repeats in sequences and distinct items in sets", () => {
    expect(ids(data.setItems.subarray(data.setOffsets[2], data.setOffsets[3]))).toEqual(["10", "2"]);
  });

  it("orders popularity by clicks desc then id ascending as integers", () => {
    expect(ids(data.popOrder)).toEqual(["10", "2", "3"]);
    expect(Array.from(data.itemClicks, (c, i) => [data.itemIds[i], c])).toEqual(
      expect.arrayContaining([
        ["10", 3],
        ["2", 2],
        ["3", 2],
      ]),
    );
  });

  it("lists each item's sessions most recent first", () => {
    const of = (id: string) => {
      const i = data.itemIndex.get(id)!;
      return Array.from(data.itemSessions.subarray(data.itemSessOffsets[i], data.itemSessOffsets[i + 1]));
    };
    expect(of("10")).toEqual([1, 2]);
    expect(of("2")).toEqual([0, 2]);
  });
});

describe("sessionsFromClicks and compareIds", () => {
  it("sorts each session by time, stable for equal times, end = last time", () => {
    const s = sessionsFromClicks([
      { sessionId: "s", itemId: "b", time: 2 },
      { sessionId: "s", itemId: "a", time: 1 },
      { sessionId: "s", itemId: "c", time: 2 },
    ]);
    expect(s).toEqual([{ id: "s", items: ["a", "b", "c"], end: 2 }]);
  });

  it("compares numeric ids as integers and others as strings", () => {
    expect(["10", "9", "b", "a"].sort(compareIds)).toEqual(["9", "10", "a", "b"]);
  });
});
