import { Xoshiro128 } from "../core/rng.js";
import {
  arr,
  type ModelFamily,
  num,
  type Params,
  str,
  type TrainInput,
  type TrainOptions,
  trainFamily,
} from "./model-family.js";
import type { SessionDataset } from "./session-dataset.js";
import type { SessionModel, SessionScorer, StateArray } from "./session-model.js";

/**
 * Item embeddings learned from sessions: item2vec (Barkan & Koenigstein 2016), i.e. skip-gram with negative
 * sampling (Mikolov et al. 2013) over session sequences. Each item has an input vector W_i and an output
 * (context) vector C_i; a (center, context) pair within `window` positions is pushed to σ(W·C) = 1 and
 * `negatives` items drawn from the unigram^0.75 distribution to σ(W·C) = 0, with a learning rate decaying
 * linearly to 0 over `epochs`. Deterministic for a given `seed` (seeded xoshiro128**).
 * Serving: the session vector u = Σ_p exp((p - L) / lambdaPos) · W_{item_p} over the last `recent` items
 * (a weighted mix of recent items); an item's score is u · C_j (`score: "out"`, the skip-gram's own
 * context predictor) or u · W_j (`"in"`, item similarity). Dense: O(items · dims) a request.
 */
export const itemEmbeddingFamily: ModelFamily = {
  family: "item2vec",
  defaults: {
    dims: 48,
    window: 3,
    negatives: 5,
    epochs: 20,
    learningRate: 0.025,
    seed: 7,
    recent: 5,
    lambdaPos: 0.5,
    score: "out",
  },
  scorer: (data, params) => embeddingScorer(params, trainSgns(data, params)),
  restore: (params, arrays) =>
    embeddingScorer(params, { input: arr(arrays, "input", Float32Array), output: arr(arrays, "output", Float32Array) }),
};

interface Embeddings {
  input: Float32Array;
  output: Float32Array;
}

/** Alias-free negative sampling table (word2vec's): item i fills a share of slots ∝ clicks^0.75. */
function unigramTable(itemClicks: Int32Array, size: number): Int32Array {
  const table = new Int32Array(size);
  let total = 0;
  for (const c of itemClicks) total += c ** 0.75;
  let i = 0;
  let acc = itemClicks.length > 0 ? itemClicks[0]! ** 0.75 / total : 1;
  for (let t = 0; t < size; t++) {
    table[t] = i;
    if (t / size > acc && i < itemClicks.length - 1) {
      i++;
      acc += itemClicks[i]! ** 0.75 / total;
    }
  }
  return table;
}

export function trainSgns(data: SessionDataset, params: Params): Embeddings {
  const d = num(params, "dims");
  const window = num(params, "window");
  const negatives = num(params, "negatives");
  const epochs = num(params, "epochs");
  const lr0 = num(params, "learningRate");
  const rng = new Xoshiro128(num(params, "seed"));
  const n = data.itemIds.length;
  const input = new Float32Array(n * d);
  for (let k = 0; k < input.length; k++) input[k] = (rng.next() - 0.5) / d;
  const output = new Float32Array(n * d);
  const table = unigramTable(data.itemClicks, Math.max(1_000_000, n * 10));
  const grad = new Float32Array(d);
  const { seqOffsets, seqItems } = data;
  const total = epochs * seqItems.length;
  let done = 0;
  const update = (center: number, target: number, label: number, lr: number) => {
    const ci = center * d;
    const ti = target * d;
    let dot = 0;
    for (let k = 0; k < d; k++) dot += input[ci + k]! * output[ti + k]!;
    const g = (label - 1 / (1 + Math.exp(-Math.max(-10, Math.min(10, dot))))) * lr;
    for (let k = 0; k < d; k++) {
      grad[k]! += g * output[ti + k]!;
      output[ti + k]! += g * input[ci + k]!;
    }
  };
  for (let e = 0; e < epochs; e++) {
    for (let s = 0; s + 1 < seqOffsets.length; s++) {
      const from = seqOffsets[s]!;
      const to = seqOffsets[s + 1]!;
      for (let p = from; p < to; p++) {
        const lr = Math.max(lr0 * 1e-4, lr0 * (1 - done++ / total));
        const center = seqItems[p]!;
        for (let q = Math.max(from, p - window); q < Math.min(to, p + window + 1); q++) {
          if (q === p) continue;
          grad.fill(0);
          update(center, seqItems[q]!, 1, lr);
          for (let m = 0; m < negatives; m++) {
            const neg = table[Math.floor(rng.next() * table.length)]!;
            if (neg !== seqItems[q]) update(center, neg, 0, lr);
          }
          for (let k = 0; k < d; k++) input[center * d + k]! += grad[k]!;
        }
      }
    }
  }
  return { input, output };
}

function embeddingScorer(params: Params, emb: Embeddings): SessionScorer {
  const d = num(params, "dims");
  const recent = num(params, "recent");
  const lambdaPos = num(params, "lambdaPos");
  const target = str(params, "score") === "in" ? emb.input : emb.output;
  const n = target.length / d;
  const u = new Float64Array(d);
  return {
    family: "item2vec",
    params: { ...params },
    scoreInto(session, buf) {
      u.fill(0);
      const L = session.length;
      for (let p = Math.max(0, L - recent); p < L; p++) {
        const w = Math.exp((p + 1 - L) / lambdaPos);
        const o = session[p]! * d;
        for (let k = 0; k < d; k++) u[k]! += w * emb.input[o + k]!;
      }
      for (let j = 0; j < n; j++) {
        let dot = 0;
        const o = j * d;
        for (let k = 0; k < d; k++) dot += u[k]! * target[o + k]!;
        // σ(dot): same order, positive, so the shared ranking and fallback treat it like any score.
        buf.set(j, 1 / (1 + Math.exp(-dot)));
      }
    },
    arrays: (): Record<string, StateArray> => ({ ...emb }),
  };
}

export function trainItemEmbedding(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(itemEmbeddingFamily, input, options);
}
