import { type KnnIndex, knnArrays, knnFromArrays, sessionsWith } from "./knn-index.js";
import { type ModelFamily, type TrainInput, type TrainOptions, trainFamily } from "./model-family.js";
import type { ScoreBuffer } from "./score-buffer.js";
import type { SessionModel, SessionScorer } from "./session-model.js";

/**
 * Item-kNN (PROTOCOL.md; Hidasi et al. 2016's baseline): sim(a, b) = |S_a ∩ S_b| / sqrt(|S_a| |S_b|) over the
 * sets of train sessions containing each item; a candidate's score is its similarity to the last session
 * item (never the last item itself). Computed exactly at request time from the inverted index.
 */
export const itemKnnFamily: ModelFamily = {
  family: "iknn",
  defaults: {},
  scorer: (data) => itemKnnScorer(data),
  restore: (_params, arrays) => itemKnnScorer(knnFromArrays(arrays)),
};

function itemKnnScorer(ix: KnnIndex): SessionScorer {
  return {
    family: "iknn",
    params: {},
    scoreInto(session, buf) {
      coSessionCounts(ix, session[session.length - 1]!, buf);
    },
    arrays: () => knnArrays(ix),
  };
}

/** Cosine of session-occurrence sets between `a` and every item co-occurring with it. */
export function coSessionCounts(ix: KnnIndex, a: number, buf: ScoreBuffer): void {
  const { itemSessOffsets, itemSessions, setOffsets, setItems } = ix;
  for (let q = itemSessOffsets[a]!; q < itemSessOffsets[a + 1]!; q++) {
    const s = itemSessions[q]!;
    for (let p = setOffsets[s]!; p < setOffsets[s + 1]!; p++) {
      const j = setItems[p]!;
      if (j !== a) buf.add(j, 1);
    }
  }
  const na = sessionsWith(ix, a);
  for (let t = 0; t < buf.count; t++) {
    const j = buf.touched[t]!;
    buf.scores[j] = buf.scores[j]! / Math.sqrt(na * sessionsWith(ix, j));
  }
}

export function trainItemKnn(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(itemKnnFamily, input, options);
}
