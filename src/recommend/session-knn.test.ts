import { describe, expect, it } from "vitest";
import { trainItemKnn } from "./item-knn.js";
import { trainPopularity } from "./popularity.js";
import { buildDataset } from "./session-dataset.js";
import { trainSknn, trainVsknn } from "./session-knn.js";
import { trainSessionPopularity } from "./session-popularity.js";

// Four train sessions, built so every neighbourhood figure below is computable by hand.
const train = [
  { id: "1", items: ["a", "b", "c"], end: 1 },
  { id: "2", items: ["a", "d"], end: 2 },
  { id: "3", items: ["x", "y"], end: 3 },
  { id: "4", items: ["b", "c", "e"], end: 4 },
];
const data = buildDataset(train);
const scoresOf = (m: { score(s: readonly string[], c: readonly string[]): Float64Array }, prefix: string[]) => {
  const ids = ["a", "b", "c", "d", "e", "x", "y"];
  const s = m.score(prefix, ids);
  return Object.fromEntries(ids.map((id, k) => [id, Number(s[k]!.toFixed(6))]));
};

describe("V-SKNN (PROTOCOL.md)", () => {
  it("weights prefix items by position p/L and sums neighbour similarities", () => {
    // prefix [a, b]: w(a) = 1/2, w(b) = 1. sim(s1) = 1.5/2, sim(s2) = 0.5/2, sim(s4) = 1/2; s3 shares nothing.
    expect(scoresOf(trainVsknn(data), ["a", "b"])).toEqual({ a: 1, b: 1.25, c: 1.25, d: 0.25, e: 0.5, x: 0, y: 0 });
  });

  it("keeps the k most similar neighbours", () => {
    // k = 2: s1 (0.75) and s4 (0.5); s2 (0.25) drops out, so d is unscored.
    expect(scoresOf(trainVsknn(data, { params: { k: 2 } }), ["a", "b"])).toEqual({
      a: 0.75,
      b: 1.25,
      c: 1.25,
      d: 0,
      e: 0.5,
      x: 0,
      y: 0,
    });
  });

  it("samples the most recent candidate sessions before similarity", () => {
    // sample = 2: the two most recent sessions sharing an item are s4 (end 4) and s2 (end 2); s1 is not seen.
    expect(scoresOf(trainVsknn(data, { params: { sample: 2 } }), ["a", "b"])).toEqual({
      a: 0.25,
      b: 0.5,
      c: 0.5,
      d: 0.25,
      e: 0.5,
      x: 0,
      y: 0,
    });
  });

  it("gives a repeated item its latest position", () => {
    // prefix [b, a, b]: w(a) = 2/3, w(b) = 3/3; sim(s1) = (2/3 + 1)/3, sim(s2) = (2/3)/3, sim(s4) = 1/3.
    const s = scoresOf(trainVsknn(data), ["b", "a", "b"]);
    expect(s.d).toBeCloseTo(2 / 9, 6);
    expect(s.e).toBeCloseTo(1 / 3, 6);
    expect(s.c).toBeCloseTo(5 / 9 + 1 / 3, 6);
  });
});

describe("SKNN", () => {
  it("uses cosine on item sets: |P ∩ n| / sqrt(|P| |n|)", () => {
    const s = scoresOf(trainSknn(data), ["a", "b"]);
    expect(s.d).toBeCloseTo(1 / Math.sqrt(4), 6);
    expect(s.e).toBeCloseTo(1 / Math.sqrt(6), 6);
    expect(s.c).toBeCloseTo(2 / Math.sqrt(6) + 1 / Math.sqrt(6), 6);
  });
});

describe("protocol baselines", () => {
  it("item-kNN scores by session-set cosine to the last item, never the last item itself", () => {
    expect(scoresOf(trainItemKnn(data), ["a", "b"])).toEqual({
      a: 0.5,
      b: 0,
      c: 1,
      d: 0,
      e: Number((1 / Math.sqrt(2)).toFixed(6)),
      x: 0,
      y: 0,
    });
  });

  it("S-POP counts occurrences in the session; ties go to popularity then id", () => {
    const m = trainSessionPopularity(data);
    expect(m.recommend(["e", "a", "e"], 4).items).toEqual([
      { id: "e", score: 2 },
      { id: "a", score: 1 },
      { id: "b", score: 0 },
      { id: "c", score: 0 },
    ]);
  });

  it("POP ranks by train clicks, ties by id", () => {
    expect(
      trainPopularity(data)
        .recommend(["x"], 4)
        .items.map((r) => r.id),
    ).toEqual(["a", "b", "c", "d"]);
  });
});

describe("neighbours of a constructed session in a larger set", () => {
  it("V-SKNN recommends the continuation shared by sessions like the prefix", () => {
    // 30 sessions p→q→r, 40 sessions p→s, 5 sessions q→t: after [p, q] the next item is r, after [p] it is s.
    const sessions = [
      ...Array.from({ length: 30 }, (_, k) => ({ id: `A${k}`, items: ["p", "q", "r"], end: k })),
      ...Array.from({ length: 40 }, (_, k) => ({ id: `B${k}`, items: ["p", "s"], end: 100 + k })),
      ...Array.from({ length: 5 }, (_, k) => ({ id: `C${k}`, items: ["q", "t"], end: 200 + k })),
    ];
    const m = trainVsknn(sessions);
    const top = m.recommend(["p", "q"], 3, { exclude: new Set(["p", "q"]) }).items.map((r) => r.id);
    expect(top[0]).toBe("r");
    expect(m.recommend(["p"], 1, { exclude: new Set(["p"]) }).items[0]!.id).toBe("s");
  });
});
