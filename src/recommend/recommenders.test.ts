import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { targetRank } from "./evaluate-next-item.js";
import { loadModel, saveModel } from "./model-store.js";
import { DEFAULT_RECOMMENDER, recommenders, trainRecommender } from "./recommenders.js";
import { buildDataset, toIndices } from "./session-dataset.js";
import type { SessionModel } from "./session-model.js";
import { syntheticSessions } from "./synthetic-sessions.js";

// One contract suite run by every registered model (DESIGN.md: a registry and one contract test per family).
const sessions = syntheticSessions({ events: 4000, items: 300, seed: 3, topicSize: 20 });
const dataset = buildDataset(sessions);
const clock = new ManualClock(Date.UTC(2026, 0, 2));
const fastParams: Record<string, Record<string, number>> = { item2vec: { epochs: 2, dims: 16 } };
const dir = mkdtempSync(join(tmpdir(), "loopwise-rec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Brute force of the protocol order: score desc, clicks desc, id asc (as integers). */
function bruteRank(model: SessionModel, session: string[], target: string): number {
  const ids = model.vocab.itemIds;
  const scores = model.score(session, ids);
  const order = ids
    .map((id, k) => ({ id, s: scores[k]!, c: model.vocab.itemClicks[k]! }))
    .sort((a, b) => b.s - a.s || b.c - a.c || Number(a.id) - Number(b.id));
  return order.findIndex((x) => x.id === target) + 1;
}

describe.each(Object.keys(recommenders))("recommender %s", (name) => {
  const model = trainRecommender(name, dataset, { clock, params: fastParams[name] ?? {} });
  const session = sessions[5]!.items.slice(0, 3) as string[];

  it("is named, versioned and stamped by the given clock", () => {
    expect(model.name).toBe(name);
    expect(model.version).toMatch(new RegExp(`^${name}-`));
    expect(model.trainedAt).toBe(clock.now());
    expect(Object.isFrozen(model)).toBe(true);
  });

  it("returns k distinct known items in score order, never excluded or unavailable ones", () => {
    const exclude = new Set(model.recommend(session, 3).items.map((r) => r.id));
    const isAvailable = (id: string) => Number(id) % 3 !== 0;
    const rec = model.recommend(session, 20, { exclude, isAvailable });
    expect(rec.items).toHaveLength(20);
    expect(new Set(rec.items.map((r) => r.id)).size).toBe(20);
    for (const r of rec.items) {
      expect(exclude.has(r.id)).toBe(false);
      expect(isAvailable(r.id)).toBe(true);
      expect(dataset.itemIndex.has(r.id)).toBe(true);
    }
    const scores = rec.items.map((r) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it("scores candidates consistently with recommend, and unknown candidates as 0", () => {
    const rec = model.recommend(session, 10);
    const scores = model.score(session, [...rec.items.map((r) => r.id), "no-such-item"]);
    rec.items.forEach((r, k) => {
      expect(scores[k]).toBeCloseTo(r.score, 12);
    });
    expect(scores[rec.items.length]).toBe(0);
  });

  it("falls back to popularity for a cold session and ignores unknown items", () => {
    const cold = model.recommend([], 5);
    const popular = Array.from(dataset.popOrder.slice(0, 5), (i) => dataset.itemIds[i]);
    if (name !== "pop") expect(cold).toEqual({ items: popular.map((id) => ({ id, score: 0 })), fallback: "popular" });
    expect(model.recommend(["unknown-1", "unknown-2"], 5).items.map((r) => r.id)).toEqual(popular);
    expect(model.recommend([...session, "unknown-x"], 5)).toEqual(model.recommend(session, 5));
  });

  it("ranks a target exactly as a brute-force sort of the whole catalogue (the evaluation's rank)", () => {
    for (const s of sessions.slice(20, 40)) {
      const prefix = s.items.slice(0, -1) as string[];
      const target = s.items[s.items.length - 1]!;
      const idx = toIndices(dataset.itemIndex, prefix);
      expect(targetRank(model, idx, dataset.itemIndex.get(target)!)).toBe(bruteRank(model, prefix, target));
    }
  });

  it("saves and loads to identical scores (atomic file in the data dir)", async () => {
    const sub = join(dir, name);
    await saveModel(model, sub);
    const loaded = await loadModel(sub);
    expect(loaded).toBeDefined();
    expect([loaded!.name, loaded!.version, loaded!.trainedAt]).toEqual([model.name, model.version, model.trainedAt]);
    const ids = dataset.itemIds.slice(0, 100);
    expect(Array.from(loaded!.score(session, ids))).toEqual(Array.from(model.score(session, ids)));
  });
});

describe("registry", () => {
  it("has the protocol baselines, the neighbourhood models, co-occurrence and an embedding model", () => {
    expect(Object.keys(recommenders)).toEqual(
      expect.arrayContaining(["pop", "spop", "iknn", "sknn", "vsknn", "vstan", "cooc", "item2vec"]),
    );
    expect(recommenders[DEFAULT_RECOMMENDER]).toBeDefined();
  });

  it("rejects an unknown model name, naming the known ones", () => {
    expect(() => trainRecommender("nope", dataset)).toThrow(/unknown model nope; known: pop/);
  });

  it("loadModel gives undefined for an empty dir and rejects a foreign file", async () => {
    expect(await loadModel(join(dir, "empty"))).toBeUndefined();
    const { writeFileSync, mkdirSync } = await import("node:fs");
    mkdirSync(join(dir, "bad"), { recursive: true });
    writeFileSync(join(dir, "bad", "recommender-model.bin"), "not a model at all");
    await expect(loadModel(join(dir, "bad"))).rejects.toThrow(/not a Loopwise model/);
  });
});
