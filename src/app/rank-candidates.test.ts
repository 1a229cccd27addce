import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { createEngine, type Engine } from "./engine.js";

let engine: Engine;
const logged: DecisionRecord[] = [];
beforeEach(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
    logger: pino({ level: "silent" }),
  });
  logged.length = 0;
  engine.parts.emitter.on("decision", (d) => logged.push(d));
  await engine.upsertItems({ items: [{ id: "sku-1", category: "shoes", price: 10 }, { id: "sku-2" }] });
});
afterEach(() => engine.close());

const rank = (candidates: { id: string; features?: Record<string, number | string> }[]) =>
  engine.rank({ userId: "u", candidates, slots: 1 });

describe("candidate features: catalog under request, one object per item version", () => {
  it("shares an item's catalog features across requests until the item changes", async () => {
    await rank([{ id: "sku-1" }, { id: "sku-2", features: { x: 1 } }]);
    await rank([{ id: "sku-1" }, { id: "sku-2", features: { x: 2 } }]);
    const [first, second] = logged as [DecisionRecord, DecisionRecord];
    expect(first.candidates[0]!.features).toEqual({ category: "shoes", price: 10 });
    expect(second.candidates[0]!.features).toBe(first.candidates[0]!.features);
    expect(first.candidates[1]!.features).toEqual({ x: 1 });
    expect(second.candidates[1]!.features).toEqual({ x: 2 });

    await engine.upsertItems({ items: [{ id: "sku-1", category: "shoes", price: 12 }] });
    await rank([{ id: "sku-1" }, { id: "sku-2" }]);
    const third = logged[2]!;
    expect(third.candidates[0]!.features).toEqual({ category: "shoes", price: 12 });
    expect(third.candidates[1]!.features).toBeUndefined();
  });

  it("lets the request's features win over the catalog's without changing the catalog's", async () => {
    await rank([{ id: "sku-1", features: { price: 99, y: 2 } }, { id: "sku-2" }]);
    await rank([{ id: "sku-1" }, { id: "sku-2" }]);
    expect(logged[0]!.candidates[0]!.features).toEqual({ category: "shoes", price: 99, y: 2 });
    expect(logged[1]!.candidates[0]!.features).toEqual({ category: "shoes", price: 10 });
  });
});

describe("excluded items are never candidates", () => {
  it("drops excluded request candidates, keeping the others in order with their features", async () => {
    const res = await engine.rank({
      userId: "u",
      candidates: [{ id: "sku-1" }, { id: "sku-2", features: { x: 1 } }, { id: "sku-3" }],
      exclude: ["sku-1"],
      slots: 2,
    });
    expect(res.candidateSource).toBe("request");
    expect(logged[0]!.candidates).toEqual([{ id: "sku-2", features: { x: 1 } }, { id: "sku-3" }]);
  });

  it("says every sent candidate was excluded when none is left, and logs nothing", async () => {
    const all = engine.rank({
      userId: "u",
      candidates: [{ id: "sku-1" }, { id: "sku-2" }],
      exclude: ["sku-2", "sku-1"],
    });
    await expect(all).rejects.toMatchObject({
      code: "NO_CANDIDATES",
      message: expect.stringMatching(/every candidate is in `exclude` \(2 sent\)/),
    });
    expect(logged).toHaveLength(0);
  });

  it("refuses a rank whose shared × candidate features exceed the pairs bound, catalog candidates too, and logs nothing", async () => {
    const dense = (n: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}[${i}]`, i / n]));
    const context = dense(4096, "ctx");
    // With the user's aggregates, (4096 + aggregates + 1) × (4096 + 1) × 2 is just over MAX_FEATURE_PAIRS (2^25).
    const heavy = [1, 2].map((i) => ({ id: `e-${i}`, features: dense(4096, "e") }));
    const refusal = {
      code: "VALIDATION_FAILED",
      errors: [{ path: "candidates", message: expect.stringMatching(/feature pairs; at most 33554432/) }],
    };
    await expect(engine.rank({ userId: "u", context, candidates: heavy, slots: 1 })).rejects.toMatchObject(refusal);
    // Catalog items with embeddings, ranked without request candidates, are counted as ranked.
    await engine.upsertItems({ items: heavy.map((c) => ({ id: `cat-${c.id}`, features: c.features })) });
    await expect(
      engine.rank({ userId: "u", context, candidates: [{ id: "cat-e-1" }, { id: "cat-e-2" }] }),
    ).rejects.toMatchObject(refusal);
    expect(logged).toHaveLength(0);
    // One candidate fewer is within it, and served (the dense context's 4,096 features included).
    const served = await engine.rank({ userId: "u", context, candidates: heavy.slice(0, 1), slots: 1 });
    expect(served.ranking.map((r) => r.id)).toEqual(["e-1"]);
  });

  it("takes item ids with inner spaces through the catalog, events, rank, exclude and rewards", async () => {
    await engine.upsertItems({ items: [{ id: "ice cream", category: "dessert", price: 3 }] });
    const ingested = await engine.ingestEvents({ events: [{ type: "view", userId: "u", itemId: "ice cream" }] });
    expect(ingested.accepted).toBe(1);
    const ranked = await engine.rank({
      userId: "u",
      candidates: [{ id: "ice cream" }, { id: "sku-1" }, { id: "café au lait" }],
      exclude: ["café au lait"],
      slots: 2,
    });
    expect(ranked.ranking.map((r) => r.id).sort()).toEqual(["ice cream", "sku-1"]);
    expect(logged[0]?.candidates.find((c) => c.id === "ice cream")?.features).toMatchObject({ category: "dessert" });
    const reward = await engine.reward(ranked.decisionId, { value: 1, itemId: "ice cream" });
    expect(reward.status).toBe("accepted");
    await expect(engine.rank({ userId: "u", candidates: [{ id: "ice cream " }] })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  it("fills catalog candidates past excluded items, with their catalog features", async () => {
    const res = await engine.rank({ userId: "u", exclude: ["sku-1"] });
    expect(res.candidateSource).toBe("catalog");
    expect(logged[0]!.candidates.map((c) => c.id)).toEqual(["sku-2"]);
    await engine.rank({ userId: "u" });
    expect(logged[1]!.candidates).toEqual([
      { id: "sku-1", features: { category: "shoes", price: 10 } },
      { id: "sku-2" },
    ]);
  });
});
