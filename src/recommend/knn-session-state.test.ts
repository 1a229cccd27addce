import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import { KnnSessionState, MAX_SLOTS, MergeScratch, moveWindow } from "./knn-session-state.js";
import { trainRecommender } from "./recommenders.js";
import { ScoreBuffer } from "./score-buffer.js";
import { buildDataset, toIndices } from "./session-dataset.js";
import type { KnnScorer } from "./session-knn.js";
import { syntheticSessions } from "./synthetic-sessions.js";

const sessions = syntheticSessions({ events: 6000, items: 300, seed: 11, topicSize: 15 });
const data = buildDataset(sessions);
const rng = new Xoshiro128(42);
const randomItems = (n: number) => Array.from({ length: n }, () => Math.floor(rng.next() * data.itemIds.length));

/** Exact equality of two buffers' scored items (same set, same float values). */
function expectSameScores(a: ScoreBuffer, b: ScoreBuffer): void {
  expect(b.count).toBe(a.count);
  for (let t = 0; t < a.count; t++) {
    const i = a.touched[t]!;
    if (b.get(i) !== a.scores[i]) throw new Error(`item ${i}: ${b.get(i)} !== ${a.scores[i]}`);
  }
}

describe("KnnSessionState", () => {
  it("keeps the union of the window items' most recent sessions, with one bit per item", () => {
    const st = new KnnSessionState();
    const tmp = new MergeScratch();
    const sample = 7;
    for (let step = 0; step < 40; step++) {
      const window = [...new Set(randomItems(1 + Math.floor(rng.next() * 6)))];
      expect(moveWindow(st, window, data, sample, tmp)).toBe(true);
      // Brute force: session -> set of window items whose first `sample` sessions contain it.
      const expected = new Map<number, Set<number>>();
      for (const i of window) {
        const from = data.itemSessOffsets[i]!;
        const to = Math.min(data.itemSessOffsets[i + 1]!, from + sample);
        for (let q = from; q < to; q++) {
          const s = data.itemSessions[q]!;
          if (!expected.has(s)) expected.set(s, new Set());
          expected.get(s)!.add(i);
        }
      }
      const sessionsKept = Array.from(st.sess.subarray(0, st.size));
      expect(sessionsKept).toEqual([...expected.keys()].sort((x, y) => x - y));
      for (let c = 0; c < st.size; c++) {
        const items = new Set<number>();
        for (let k = 0; k < MAX_SLOTS; k++) if ((st.mask[c]! & (1 << k)) !== 0) items.add(st.slotItems[k]!);
        expect(items).toEqual(expected.get(st.sess[c]!));
      }
    }
  });

  it("refuses a window of more distinct items than its masks hold", () => {
    const st = new KnnSessionState();
    const many = Array.from({ length: MAX_SLOTS + 1 }, (_, i) => i);
    expect(moveWindow(st, many, data, 10, new MergeScratch())).toBe(false);
    expect(st.size).toBe(0);
  });
});

describe("incremental session-kNN scoring", () => {
  const variants: [string, Record<string, number | string>][] = [
    ["vstan", {}],
    ["vsknn", {}],
    ["sknn", {}],
    ["vstan", { sample: 20, k: 7, recent: 3 }],
    ["vsknn", { sample: 30, recent: 0, weighting: "exp", lambdaPos: 2 }],
  ];
  for (const [name, params] of variants) {
    it(`${name} ${JSON.stringify(params)}: every appended event gives exactly the scores computed from scratch`, () => {
      const model = trainRecommender(name, data, { params });
      const scorer = model.scorer as KnnScorer;
      const n = data.itemIds.length;
      const direct = new ScoreBuffer(n);
      const viaState = new ScoreBuffer(n);
      const cold = new ScoreBuffer(n);
      for (const s of sessions.slice(0, 120)) {
        const items = toIndices(model.vocab.itemIndex, s.items);
        let state: object | undefined;
        for (let t = 1; t <= items.length; t++) {
          const prefix = items.slice(0, t);
          direct.reset();
          scorer.scoreDirect(prefix, direct);
          viaState.reset();
          state = scorer.scoreFrom(state, prefix, viaState);
          cold.reset();
          scorer.scoreInto(prefix, cold);
          expectSameScores(direct, viaState);
          expectSameScores(direct, cold);
        }
      }
    });
  }

  it("is exact when a state moves to an unrelated session, and falls back beyond the mask width", () => {
    const model = trainRecommender("vsknn", data);
    const scorer = model.scorer as KnnScorer;
    const direct = new ScoreBuffer(data.itemIds.length);
    const viaState = new ScoreBuffer(data.itemIds.length);
    let state: object | undefined;
    for (let r = 0; r < 60; r++) {
      const session = randomItems(1 + Math.floor(rng.next() * 12));
      direct.reset();
      scorer.scoreDirect(session, direct);
      viaState.reset();
      state = scorer.scoreFrom(state, session, viaState);
      expectSameScores(direct, viaState);
    }
    // recent = 0 keeps every click: 40 distinct items exceed the 31 mask bits, so the direct path serves.
    const long = Array.from({ length: 40 }, (_, i) => i);
    direct.reset();
    scorer.scoreDirect(long, direct);
    viaState.reset();
    expect(scorer.scoreFrom(state, long, viaState)).toBeUndefined();
    expectSameScores(direct, viaState);
  });
});
