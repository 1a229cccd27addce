import { murmur3 } from "../core/hash.js";
import { ScoreBuffer } from "./score-buffer.js";
import { selectTopScored } from "./select-top.js";
import {
  DEFAULT_SESSION_CACHE,
  SessionCache,
  type SessionCacheOptions,
  type SessionCacheStats,
} from "./session-cache.js";
import { popularityOrder, toIndices } from "./session-dataset.js";

/** What the app calls (DESIGN.md: training and serving apart; a model never changes once built). */
export interface Model {
  readonly name: string;
  readonly version: string;
  /** Epoch ms. */
  readonly trainedAt: number;
  /** The model's score for each candidate (0 for unknown candidates or a cold session), in candidate order. */
  score(sessionItems: readonly string[], candidates: readonly string[], options?: ScoreOptions): Float64Array;
  recommend(sessionItems: readonly string[], k: number, options?: RecommendOptions): Recommendation;
}

export interface ScoreOptions {
  /**
   * Names the live session (e.g. its session id) so the model's session cache finds the previous request's
   * work under it even when the item list changed in other ways than one appended item. Without it, the
   * cache is keyed by the item sequence. Scores never depend on it.
   */
  sessionKey?: string;
}

export interface RecommendOptions extends ScoreOptions {
  exclude?: ReadonlySet<string>;
  isAvailable?: (id: string) => boolean;
}

export interface Recommendation {
  items: { id: string; score: number }[];
  /** Set when the model scored nothing for this session (cold, or only unknown items): all items are popular. */
  fallback?: "popular";
  /** How many trailing items were filled from popularity because the model scored fewer than k (score 0). */
  popularFill?: number;
}

export type FloatArray = Float64Array | Float32Array;
export type StateArray = Int32Array | FloatArray;

/** A model family's scoring core, over dense item indices. */
export interface SessionScorer {
  readonly family: string;
  /** JSON-able hyper-parameters, saved with the model. */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** Adds the scores of a session (known item indices, oldest first, non-empty) into `buf`. */
  scoreInto(session: readonly number[], buf: ScoreBuffer): void;
  /**
   * Optional incremental form of scoreInto, giving the same scores: `state` is what an earlier call returned
   * for this live session (or any session: a state describes itself, so a wrong one only costs time);
   * the return value is the state to keep for the next request (undefined: nothing worth keeping).
   */
  scoreFrom?(state: object | undefined, session: readonly number[], buf: ScoreBuffer): object | undefined;
  /** Optional: takes back a state the cache let go of, to reuse its buffers (fewer allocations, less GC). */
  recycle?(state: object): void;
  /** The arrays that, with params, rebuild this scorer (persistence). */
  arrays(): Record<string, StateArray>;
}

/** Item vocabulary and popularity shared by every family (the fallback and the protocol's tie-break). */
export interface Vocabulary {
  readonly itemIds: readonly string[];
  readonly itemIndex: ReadonlyMap<string, number>;
  readonly itemClicks: Int32Array;
  readonly popOrder: Int32Array;
  readonly popRank: Int32Array;
}

export function vocabulary(itemIds: readonly string[], itemClicks: Int32Array): Vocabulary {
  const itemIndex = new Map<string, number>();
  itemIds.forEach((id, i) => {
    itemIndex.set(id, i);
  });
  return { itemIds, itemIndex, itemClicks, ...popularityOrder(itemIds, itemClicks) };
}

export class SessionModel implements Model {
  readonly name: string;
  readonly version: string;
  readonly trainedAt: number;
  readonly vocab: Vocabulary;
  readonly scorer: SessionScorer;
  private readonly buf: ScoreBuffer;
  private readonly cache: SessionCache;

  constructor(init: {
    name: string;
    version?: string;
    trainedAt: number;
    vocab: Vocabulary;
    scorer: SessionScorer;
    /** Bounds of this model's live-session cache (a new model starts with an empty one). */
    sessionCache?: SessionCacheOptions;
  }) {
    this.name = init.name;
    this.trainedAt = init.trainedAt;
    this.vocab = init.vocab;
    this.scorer = init.scorer;
    this.version = init.version ?? defaultVersion(init.name, init.trainedAt, init.vocab, init.scorer);
    this.buf = new ScoreBuffer(init.vocab.itemIds.length);
    const scorer = init.scorer;
    this.cache = new SessionCache(init.sessionCache ?? DEFAULT_SESSION_CACHE, undefined, (state) =>
      scorer.recycle?.(state),
    );
    Object.freeze(this);
  }

  /** Hits, misses and size of the live-session cache. */
  sessionCacheStats(): SessionCacheStats {
    return this.cache.stats();
  }

  /**
   * Scores a live session through the session cache: the scorer continues from the state of this session's
   * previous request when there is one. Same scores as scoreIndices. Valid until the next call on this model.
   */
  private scoreSession(sessionItems: readonly string[], sessionKey: string | undefined): ScoreBuffer {
    const session = toIndices(this.vocab.itemIndex, sessionItems);
    const { scorer, cache } = this;
    if (!scorer.scoreFrom || !cache.enabled || session.length === 0) return this.scoreIndices(session);
    const { key, state } = cache.take(sessionItems, sessionKey);
    this.buf.reset();
    cache.put(key, scorer.scoreFrom(state, session, this.buf));
    return this.buf;
  }

  /** Scores of the known items for a session (index form). Valid until the next call on this model. */
  scoreIndices(session: readonly number[]): ScoreBuffer {
    this.buf.reset();
    if (session.length > 0) this.scorer.scoreInto(session, this.buf);
    return this.buf;
  }

  score(sessionItems: readonly string[], candidates: readonly string[], options: ScoreOptions = {}): Float64Array {
    const buf = this.scoreSession(sessionItems, options.sessionKey);
    const out = new Float64Array(candidates.length);
    candidates.forEach((id, c) => {
      const i = this.vocab.itemIndex.get(id);
      if (i !== undefined) out[c] = buf.get(i);
    });
    return out;
  }

  recommend(sessionItems: readonly string[], k: number, options: RecommendOptions = {}): Recommendation {
    const buf = this.scoreSession(sessionItems, options.sessionKey);
    const { itemIds, popRank, popOrder } = this.vocab;
    const allowed = (i: number) => {
      const id = itemIds[i]!;
      return !options.exclude?.has(id) && (options.isAvailable?.(id) ?? true);
    };
    const top = topK(buf, popRank, k, allowed);
    const items = top.map((i) => ({ id: itemIds[i]!, score: buf.scores[i]! }));
    if (items.length >= k) return { items };
    const scored = items.length;
    for (let r = 0; r < popOrder.length && items.length < k; r++) {
      const i = popOrder[r]!;
      // Positive-scored items not taken above were filtered out (or are already in): skip them.
      if (buf.get(i) > 0 || !allowed(i)) continue;
      items.push({ id: itemIds[i]!, score: 0 });
    }
    if (scored === 0) return { items, fallback: "popular" };
    return items.length > scored ? { items, popularFill: items.length - scored } : { items };
  }
}

/** name-trainedAt(base 36)-hash of the data's shape and the parameters: readable, and distinct across retrains. */
function defaultVersion(name: string, trainedAt: number, vocab: Vocabulary, scorer: SessionScorer): string {
  let clicks = 0;
  for (const c of vocab.itemClicks) clicks += c;
  const hash = murmur3(`${vocab.itemIds.length}:${clicks}:${JSON.stringify(scorer.params)}`);
  return `${name}-${trainedAt.toString(36)}-${hash.toString(36)}`;
}

/** The k best positively scored allowed items, by score desc then popularity rank (the protocol's order). */
export function topK(buf: ScoreBuffer, popRank: Int32Array, k: number, allowed: (i: number) => boolean): number[] {
  return selectTopScored(buf.touched, buf.count, buf.scores, popRank, k, allowed);
}
