import {
  arr,
  type ModelFamily,
  num,
  type Params,
  type TrainInput,
  type TrainOptions,
  trainFamily,
} from "./model-family.js";
import { ScoreBuffer } from "./score-buffer.js";
import { selectTop } from "./select-top.js";
import type { SessionDataset } from "./session-dataset.js";
import type { SessionModel, SessionScorer, StateArray } from "./session-model.js";

/**
 * Item-to-item co-occurrence with sequence awareness: within a session, item j at distance d after item a
 * adds 1/d to c(a→j) (before a: `backward`/d), over a window of `window` positions; the weight is normalised
 * like a cosine, c(a→j) / (clicks_a · clicks_j)^(alpha/2) (alpha = 1 is cosine-like; lower favours popular
 * items). Only the top `neighbours` per item are kept: serving reads precomputed lists (the cached
 * neighbour lists of the issue), so a request costs O(recent items · neighbours). A session scores as
 * Σ over its last `recent` items of exp((p - L) / lambdaPos) · c(item→j) (recency-weighted, as in STAN).
 */
export const cooccurrenceFamily: ModelFamily = {
  family: "cooc",
  defaults: { window: 5, backward: 0.5, alpha: 0.5, neighbours: 100, recent: 5, lambdaPos: 1 },
  scorer: (data, params) => cooccurrenceScorer(params, neighbourLists(data, params)),
  restore: (params, arrays) =>
    cooccurrenceScorer(params, {
      offsets: arr(arrays, "offsets", Int32Array),
      items: arr(arrays, "items", Int32Array),
      weights: arr(arrays, "weights", Float32Array),
    }),
};

interface NeighbourLists {
  offsets: Int32Array;
  items: Int32Array;
  weights: Float32Array;
}

function neighbourLists(data: SessionDataset, params: Params): NeighbourLists {
  const window = num(params, "window");
  const backward = num(params, "backward");
  const alpha = num(params, "alpha");
  const keep = num(params, "neighbours");
  const n = data.itemIds.length;
  const buf = new ScoreBuffer(n);
  const offsets = new Int32Array(n + 1);
  const items: number[] = [];
  const weights: number[] = [];
  const { itemSessOffsets, itemSessions, seqOffsets, seqItems, itemClicks } = data;
  for (let a = 0; a < n; a++) {
    buf.reset();
    for (let q = itemSessOffsets[a]!; q < itemSessOffsets[a + 1]!; q++) {
      const s = itemSessions[q]!;
      const from = seqOffsets[s]!;
      const to = seqOffsets[s + 1]!;
      for (let p = from; p < to; p++) {
        if (seqItems[p] !== a) continue;
        for (let r = Math.max(from, p - window); r < Math.min(to, p + window + 1); r++) {
          if (r === p) continue;
          buf.add(seqItems[r]!, (r > p ? 1 : backward) / Math.abs(r - p));
        }
      }
    }
    for (let t = 0; t < buf.count; t++) {
      const j = buf.touched[t]!;
      buf.scores[j] = buf.scores[j]! / (itemClicks[a]! * itemClicks[j]!) ** (alpha / 2);
    }
    const s = buf.scores;
    const top = selectTop(
      buf.count,
      (t) => buf.touched[t]!,
      keep,
      (x, y) => s[x]! > s[y]! || (s[x] === s[y] && x < y),
    );
    for (const j of top) {
      items.push(j);
      weights.push(s[j]!);
    }
    offsets[a + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items), weights: Float32Array.from(weights) };
}

function cooccurrenceScorer(params: Params, lists: NeighbourLists): SessionScorer {
  const recent = num(params, "recent");
  const lambdaPos = num(params, "lambdaPos");
  return {
    family: "cooc",
    params: { ...params },
    scoreInto(session, buf) {
      const L = session.length;
      for (let p = Math.max(0, L - recent); p < L; p++) {
        const a = session[p]!;
        const w = Math.exp((p + 1 - L) / lambdaPos);
        for (let q = lists.offsets[a]!; q < lists.offsets[a + 1]!; q++) buf.add(lists.items[q]!, w * lists.weights[q]!);
      }
    },
    arrays: (): Record<string, StateArray> => ({ ...lists }),
  };
}

export function trainCooccurrence(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(cooccurrenceFamily, input, options);
}
