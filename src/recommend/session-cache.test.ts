import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { ModelHolder } from "./model-holder.js";
import { trainRecommender } from "./recommenders.js";
import { selectTop, selectTopScored } from "./select-top.js";
import { SessionCache } from "./session-cache.js";
import { buildDataset } from "./session-dataset.js";
import { syntheticSessions } from "./synthetic-sessions.js";

const sessions = syntheticSessions({ events: 5000, items: 250, seed: 9, topicSize: 15 });
const data = buildDataset(sessions);
const clock = new ManualClock(Date.UTC(2026, 0, 3));
const sized = (bytes: number) => ({ bytes: () => bytes });

describe("SessionCache", () => {
  it("finds a state by the sequence or by the sequence one event shorter, and takes it out", () => {
    const cache = new SessionCache();
    const a = sized(10);
    cache.put(cache.take(["x", "y"]).key, a);
    const next = cache.take(["x", "y", "z"]);
    expect(next.state).toBe(a);
    // Taken: the shorter sequence no longer holds it.
    expect(cache.take(["x", "y"]).state).toBeUndefined();
    cache.put(next.key, a);
    expect(cache.take(["x", "y", "z"]).state).toBe(a);
    expect(cache.take(["x", "y", "z", "w", "v"]).state).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 3, sessions: 0 });
  });

  it("finds a state by the caller's session key whatever the items", () => {
    const cache = new SessionCache();
    const a = sized(10);
    cache.put(cache.take(["x"], "sess-1").key, a);
    expect(cache.take(["p", "q"], "sess-2").state).toBeUndefined();
    expect(cache.take(["p", "q"], "sess-1").state).toBe(a);
  });

  it("evicts the least recently used session past the session cap and the byte cap", () => {
    const cache = new SessionCache({ maxSessions: 2, maxBytes: 100 });
    const key = (k: string) => cache.take([], k).key;
    cache.put(key("a"), sized(10));
    cache.put(key("b"), sized(10));
    cache.put(key("a"), sized(10)); // "a" is used again: "b" is now the oldest
    cache.put(key("c"), sized(10));
    expect(cache.stats()).toMatchObject({ sessions: 2, bytes: 20, evictions: 1 });
    expect(cache.take([], "b").state).toBeUndefined();
    expect(cache.take([], "a").state).toBeDefined();
    cache.put(key("d"), sized(95));
    expect(cache.stats()).toMatchObject({ sessions: 1, bytes: 95 });
    expect(cache.take([], "c").state).toBeUndefined();
  });

  it("keeps nothing when disabled", () => {
    const cache = new SessionCache({ maxSessions: 0, maxBytes: 1000 });
    cache.put("a", sized(1));
    expect(cache.stats().sessions).toBe(0);
  });
});

describe("SessionModel with its session cache", () => {
  const options = { exclude: new Set(["1"]), isAvailable: (id: string) => !id.endsWith("3") };

  it("gives the same recommendations and scores as without a cache, event after event", () => {
    const cached = trainRecommender("vstan", data, { clock });
    const uncached = trainRecommender("vstan", data, { clock });
    const plain = new (cached.constructor as typeof import("./session-model.js").SessionModel)({
      name: uncached.name,
      trainedAt: uncached.trainedAt,
      vocab: uncached.vocab,
      scorer: uncached.scorer,
      sessionCache: { maxSessions: 0, maxBytes: 0 },
    });
    // A cache of 3 sessions evicts all the time: new sessions then start from recycled states.
    const tiny = new (cached.constructor as typeof import("./session-model.js").SessionModel)({
      name: uncached.name,
      trainedAt: uncached.trainedAt,
      vocab: uncached.vocab,
      scorer: trainRecommender("vstan", data, { clock }).scorer,
      sessionCache: { maxSessions: 3, maxBytes: 1e9 },
    });
    let compared = 0;
    for (const [n, s] of sessions.slice(0, 60).entries()) {
      for (let t = 1; t <= s.items.length; t++) {
        const prefix = s.items.slice(0, t);
        const expected = plain.recommend(prefix, 20, options);
        const sessionKey = n % 2 === 0 ? `s${n}` : undefined;
        expect(cached.recommend(prefix, 20, { ...options, sessionKey })).toEqual(expected);
        expect(tiny.recommend(prefix, 20, options)).toEqual(expected);
        if (t === 1) tiny.recommend(sessions[(n * 7) % 500]!.items, 5); // another live session meanwhile
        const ids = expected.items.map((r) => r.id);
        expect(cached.score(prefix, ids, { sessionKey })).toEqual(plain.score(prefix, ids));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(200);
    const stats = cached.sessionCacheStats();
    // Every request after the first of a session continues from the previous one.
    expect(stats.hits).toBeGreaterThan(2 * compared - 2 * 60 - 1);
    expect(plain.sessionCacheStats().sessions).toBe(0);
    expect(tiny.sessionCacheStats().evictions).toBeGreaterThan(50);
  });

  it("a swapped-in model starts with an empty cache; the old one keeps its own", () => {
    const holder = new ModelHolder(trainRecommender("vstan", data, { clock }));
    const first = holder.current()!;
    first.recommend(["2", "5"], 10);
    first.recommend(["2", "5", "7"], 10);
    expect(first.sessionCacheStats()).toMatchObject({ sessions: 1, hits: 1 });
    clock.advance(1000);
    holder.swap(trainRecommender("vstan", data, { clock }));
    const second = holder.current()!;
    expect(second).not.toBe(first);
    expect(second.sessionCacheStats()).toMatchObject({ sessions: 0, hits: 0 });
    expect(second.recommend(["2", "5", "7"], 10)).toEqual(first.recommend(["2", "5", "7"], 10));
  });
});

describe("selectTopScored", () => {
  it("selects like selectTop under score desc, popularity rank asc", () => {
    const n = 500;
    const scores = Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 13) - 2);
    const rank = Int32Array.from({ length: n }, (_, i) => (i * 31) % n);
    const touched = Int32Array.from({ length: n }, (_, i) => (i * 17) % n);
    const accept = (i: number) => i % 5 !== 0;
    const better = (a: number, b: number) =>
      scores[a]! > scores[b]! || (scores[a] === scores[b] && rank[a]! < rank[b]!);
    for (const k of [0, 1, 10, 100, 600]) {
      const expected = selectTop(
        n,
        (t) => touched[t]!,
        k,
        better,
        (i) => scores[i]! > 0 && accept(i),
      );
      expect(selectTopScored(touched, n, scores, rank, k, accept)).toEqual(expected);
    }
  });
});
