import { Finisher } from "./knn-finisher.js";
import { type KnnIndex, knnArrays, knnFromArrays, sessionsWith } from "./knn-index.js";
import { KnnSessionState, MergeScratch, moveWindow } from "./knn-session-state.js";
import {
  type ModelFamily,
  num,
  type Params,
  str,
  type TrainInput,
  type TrainOptions,
  trainFamily,
} from "./model-family.js";
import type { ScoreBuffer } from "./score-buffer.js";
import { selectTop } from "./select-top.js";
import type { SessionModel, SessionScorer } from "./session-model.js";

/**
 * Session-based kNN (Jannach & Ludewig 2017, "When recurrent neural networks meet the neighborhood") and its
 * vector variant V-SKNN (Ludewig & Jannach 2018), exactly as PROTOCOL.md states them:
 * - candidate neighbours: train sessions sharing an item with the prefix; the `sample` most recent
 *   (sessionEnd desc, id desc), then the `k` most similar (ties: most recent first);
 * - SKNN sim = |P ∩ n| / sqrt(|P| |n|); V-SKNN sim = Σ_{i ∈ P ∩ n} w(i) / L with w = p/L at the item's latest
 *   1-based position p;
 * - score(i) = Σ sim(prefix, n) over neighbours n containing i.
 * Extensions (off in the protocol variants, tuned for the default "vstan"):
 * - `weighting: "exp"`: w = exp((p - L) / lambdaPos), STAN's λ1 (Garg et al. 2019);
 * - `idf` > 0: each matched item's weight in the similarity is multiplied by (1 + idf · ln(N / df(i)));
 * - `lambdaItem` > 0: in neighbour n, item i counts exp(-|pos(i) - pos(m)| / lambdaItem), m = the most recent
 *   prefix item found in n (STAN's λ3: items near the match matter more);
 * - `repeat` > 0: prefix items get repeat · w(i) · max score added (repeat consumption, S-POP-like);
 * - `recent` > 0: only the last `recent` clicks take part (with exp weights older ones weigh < e^(-recent/λ1)).
 * The per-item session lists are kept most recent first, so the `sample` most recent sessions of their union
 * lie within the first `sample` entries of each list: request cost is O(|P| · sample), independent of data size.
 * Serving keeps, per live session, the union of those lists with a bit per window item (knn-session-state.ts),
 * so an appended event merges one list; the similarities and neighbours are then finished from the bits
 * (knn-finisher.ts), bit-identical to the direct path below (`scoreDirect`, kept as the reference and for
 * windows of more than 31 distinct items).
 */
export interface KnnConfig {
  variant: "sknn" | "vsknn";
  k: number;
  sample: number;
  weighting: "linear" | "exp";
  lambdaPos: number;
  idf: number;
  lambdaItem: number;
  repeat: number;
  recent: number;
}

const PROTOCOL_DEFAULTS = {
  k: 100,
  sample: 500,
  weighting: "linear",
  lambdaPos: 0,
  idf: 0,
  lambdaItem: 0,
  repeat: 0,
  recent: 0,
};

export const sknnFamily = knnFamily("sknn", { variant: "sknn", ...PROTOCOL_DEFAULTS });
export const vsknnFamily = knnFamily("vsknn", { variant: "vsknn", ...PROTOCOL_DEFAULTS });
/**
 * The default: V-SKNN with STAN-style decays, IDF-weighted matches and repeat boosting (VSTAN-like,
 * Ludewig et al. 2021). Tuned on a validation split inside rsc15-100k train (last day), never on test.
 */
export const vstanFamily = knnFamily("vstan", {
  ...PROTOCOL_DEFAULTS,
  variant: "vsknn",
  // 250 most recent candidates instead of 500: -0.0008 HR@20 on validation, about half the request cost.
  sample: 250,
  weighting: "exp",
  lambdaPos: 1.5,
  idf: 1,
  lambdaItem: 3,
  repeat: 2,
  // Clicks older than the last 8 weigh < e^(-8/1.5) ≈ 0.005: same validation figures, fewer lists to merge.
  recent: 8,
});
export const sessionKnnFamilies = [sknnFamily, vsknnFamily, vstanFamily];

function knnFamily(family: string, defaults: Params): ModelFamily {
  return {
    family,
    defaults,
    scorer: (data, params) => sessionKnnScorer(family, data, params),
    restore: (params, arrays) => sessionKnnScorer(family, knnFromArrays(arrays), params),
  };
}

export function readConfig(p: Params): KnnConfig {
  const variant = str(p, "variant");
  const weighting = str(p, "weighting");
  if (variant !== "sknn" && variant !== "vsknn") throw new Error(`unknown kNN variant ${variant}`);
  if (weighting !== "linear" && weighting !== "exp") throw new Error(`unknown position weighting ${weighting}`);
  return {
    variant,
    weighting,
    k: num(p, "k"),
    sample: num(p, "sample"),
    lambdaPos: num(p, "lambdaPos"),
    idf: num(p, "idf"),
    lambdaItem: num(p, "lambdaItem"),
    repeat: num(p, "repeat"),
    recent: num(p, "recent"),
  };
}

export function sessionKnnScorer(family: string, ix: KnnIndex, params: Params): KnnScorer {
  const cfg = readConfig(params);
  const nItems = ix.itemSessOffsets.length - 1;
  const scratch: Scratch = {
    weight: new Float64Array(nItems),
    pos: new Int32Array(nItems),
    itemStamp: new Uint32Array(nItems),
    seen: new Uint32Array(nItems),
    simAcc: new Float64Array(ix.sessionCount),
    sessStamp: new Uint32Array(ix.sessionCount),
    gen: 0,
    seenGen: 0,
    decay: Float64Array.from({ length: 64 }, (_, d) => (cfg.lambdaItem > 0 ? Math.exp(-d / cfg.lambdaItem) : 1)),
  };
  const idf = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) idf[i] = 1 + cfg.idf * Math.log(ix.sessionCount / Math.max(1, sessionsWith(ix, i)));
  const fin = new Finisher(cfg.sample, cfg.k);
  const merge = new MergeScratch();
  const coldState = new KnnSessionState();
  const spare: KnnSessionState[] = [];
  const windowOf = (full: readonly number[]) =>
    cfg.recent > 0 && full.length > cfg.recent ? full.slice(full.length - cfg.recent) : full;
  const direct = (full: readonly number[], buf: ScoreBuffer) => {
    nextGeneration(scratch);
    const session = windowOf(full);
    const prefix = prefixWeights(session, cfg, scratch);
    const candidates = candidateSessions(ix, prefix, cfg, scratch, idf);
    const neighbours = nearest(ix, candidates, prefix.length, session.length, cfg, scratch);
    const sims = neighbours.map((n) => scratch.simAcc[n]!);
    addNeighbourItems(ix, neighbours, sims, neighbours.length, cfg, scratch, buf);
    if (cfg.repeat > 0) addRepeats(prefix, cfg.repeat, scratch.weight, buf);
  };
  /** Scores from a state moved to this session's window; undefined when the window has too many items. */
  const fromState = (st: KnnSessionState, full: readonly number[], buf: ScoreBuffer): boolean => {
    nextGeneration(scratch);
    const session = windowOf(full);
    const prefix = prefixWeights(session, cfg, scratch);
    if (!moveWindow(st, prefix, ix, cfg.sample, merge)) return false;
    const count = fin.similarities(st, prefix, session.length, ix, cfg, scratch.weight, idf);
    const found = fin.nearest(st, count, cfg.k);
    addNeighbourItems(ix, fin.neighbours, fin.neighbourSims, found, cfg, scratch, buf);
    if (cfg.repeat > 0) addRepeats(prefix, cfg.repeat, scratch.weight, buf);
    return true;
  };
  return {
    family,
    params: { ...params },
    scoreInto(full, buf) {
      if (!fromState(coldState, full, buf)) direct(full, buf);
    },
    scoreFrom(state, full, buf) {
      // A new session takes an evicted state's buffers when there is one (a state describes itself, so any
      // state is a valid start); else a new state, sized to its union when the merges end.
      const st = state instanceof KnnSessionState ? state : (spare.pop() ?? new KnnSessionState());
      if (fromState(st, full, buf)) return st;
      direct(full, buf);
      return undefined;
    },
    recycle(state) {
      if (!(state instanceof KnnSessionState) || spare.length >= 64) return;
      state.slotItems.fill(-1);
      state.size = 0;
      spare.push(state);
    },
    scoreDirect: direct,
    arrays: () => knnArrays(ix),
  };
}

/** The kNN scorer, with its direct (stateless, pre-cache) path kept as the reference for tests. */
export interface KnnScorer extends SessionScorer {
  scoreFrom(state: object | undefined, session: readonly number[], buf: ScoreBuffer): object | undefined;
  recycle(state: object): void;
  scoreDirect(session: readonly number[], buf: ScoreBuffer): void;
}

type Scratch = {
  weight: Float64Array;
  pos: Int32Array;
  itemStamp: Uint32Array;
  seen: Uint32Array;
  simAcc: Float64Array;
  sessStamp: Uint32Array;
  gen: number;
  seenGen: number;
  /** exp(-d / lambdaItem) for d < 64 (the common distances), computed once. */
  decay: Float64Array;
};

function nextGeneration(sc: Scratch): void {
  if (++sc.gen === 0xffffffff) {
    sc.itemStamp.fill(0);
    sc.sessStamp.fill(0);
    sc.gen = 1;
  }
}

/** Distinct prefix items; their weight (latest position wins) and latest 0-based position in scratch. */
function prefixWeights(session: readonly number[], cfg: KnnConfig, sc: Scratch): number[] {
  const L = session.length;
  const distinct: number[] = [];
  for (let p = 0; p < L; p++) {
    const i = session[p]!;
    if (sc.itemStamp[i] !== sc.gen) {
      sc.itemStamp[i] = sc.gen;
      distinct.push(i);
    }
    sc.pos[i] = p;
    sc.weight[i] = cfg.weighting === "exp" ? Math.exp((p + 1 - L) / cfg.lambdaPos) : (p + 1) / L;
  }
  return distinct;
}

/** The `sample` most recent sessions sharing an item with the prefix, with their summed match weights. */
function candidateSessions(ix: KnnIndex, prefix: number[], cfg: KnnConfig, sc: Scratch, idf: Float64Array): number[] {
  const { itemSessOffsets, itemSessions } = ix;
  const heads: number[] = [];
  const ends: number[] = [];
  for (const i of prefix) {
    const from = itemSessOffsets[i]!;
    const to = Math.min(itemSessOffsets[i + 1]!, from + cfg.sample);
    const w = cfg.variant === "sknn" ? 1 : sc.weight[i]! * idf[i]!;
    for (let q = from; q < to; q++) {
      const s = itemSessions[q]!;
      if (sc.sessStamp[s] !== sc.gen) {
        sc.sessStamp[s] = sc.gen;
        sc.simAcc[s] = w;
      } else sc.simAcc[s]! += w;
    }
    heads.push(from);
    ends.push(to);
  }
  // k-way merge of ascending session indices (= recency); a session heads every list containing it at once.
  const out: number[] = [];
  while (out.length < cfg.sample) {
    let best = 0x7fffffff;
    for (let j = 0; j < heads.length; j++) {
      if (heads[j]! < ends[j]!) {
        const s = itemSessions[heads[j]!]!;
        if (s < best) best = s;
      }
    }
    if (best === 0x7fffffff) break;
    out.push(best);
    for (let j = 0; j < heads.length; j++) if (heads[j]! < ends[j]! && itemSessions[heads[j]!] === best) heads[j]!++;
  }
  return out;
}

function nearest(ix: KnnIndex, cands: number[], nDistinct: number, L: number, cfg: KnnConfig, sc: Scratch) {
  const sim = sc.simAcc;
  for (const s of cands) {
    sim[s] =
      cfg.variant === "sknn"
        ? sim[s]! / Math.sqrt(nDistinct * (ix.setOffsets[s + 1]! - ix.setOffsets[s]!))
        : sim[s]! / L;
  }
  // Ties: the more recent session (smaller index) first.
  const better = (a: number, b: number) => sim[a]! > sim[b]! || (sim[a] === sim[b] && a < b);
  return selectTop(cands.length, (t) => cands[t]!, cfg.k, better);
}

function addNeighbourItems(
  ix: KnnIndex,
  neighbours: ArrayLike<number>,
  sims: ArrayLike<number>,
  count: number,
  cfg: KnnConfig,
  sc: Scratch,
  buf: ScoreBuffer,
): void {
  for (let t = 0; t < count; t++) {
    const n = neighbours[t]!;
    const sim = sims[t]!;
    if (cfg.lambdaItem > 0) {
      addNearMatch(ix, n, sim, cfg.lambdaItem, sc, buf);
      continue;
    }
    for (let p = ix.setOffsets[n]!; p < ix.setOffsets[n + 1]!; p++) buf.add(ix.setItems[p]!, sim);
  }
}

/** STAN's λ3: items of neighbour n weighted by their distance to the most recent shared item. */
function addNearMatch(ix: KnnIndex, n: number, sim: number, lambda: number, sc: Scratch, buf: ScoreBuffer): void {
  const from = ix.seqOffsets[n]!;
  const len = ix.seqOffsets[n + 1]! - from;
  let m = 0;
  let bestPos = -1;
  for (let q = 0; q < len; q++) {
    const i = ix.seqItems[from + q]!;
    if (sc.itemStamp[i] === sc.gen && sc.pos[i]! > bestPos) {
      bestPos = sc.pos[i]!;
      m = q;
    }
  }
  if (++sc.seenGen === 0xffffffff) {
    // Stamps are u32: after ~4e9 neighbours (~40M requests) clear them rather than let generations alias.
    sc.seen.fill(0);
    sc.seenGen = 1;
  }
  // Visit positions by distance from m, so an item repeated in n takes its nearest occurrence.
  const decay = sc.decay;
  for (let d = 0; d < len; d++) {
    const w = sim * (d < decay.length ? decay[d]! : Math.exp(-d / lambda));
    if (m - d >= 0) addOnce(ix.seqItems[from + m - d]!, w, sc, buf);
    if (d > 0 && m + d < len) addOnce(ix.seqItems[from + m + d]!, w, sc, buf);
  }
}

function addOnce(i: number, w: number, sc: Scratch, buf: ScoreBuffer): void {
  if (sc.seen[i] === sc.seenGen) return;
  sc.seen[i] = sc.seenGen;
  buf.add(i, w);
}

function addRepeats(prefix: number[], repeat: number, weight: Float64Array, buf: ScoreBuffer): void {
  let max = 0;
  for (let t = 0; t < buf.count; t++) max = Math.max(max, buf.scores[buf.touched[t]!]!);
  if (max === 0) max = 1;
  for (const i of prefix) buf.add(i, repeat * weight[i]! * max);
}

export function trainSknn(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(sknnFamily, input, options);
}

export function trainVsknn(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(vsknnFamily, input, options);
}
