import { describe, expect, it } from "vitest";
import { MemoryCatalog } from "./catalog-memory.js";

const item = (id: string, extra: Record<string, unknown> = {}) => ({ id, available: true, updatedAt: 1, ...extra });

describe("memory catalog: candidate features, one object per item version", () => {
  it("answers an item's own features with its category and price, the same object until it is upserted again", async () => {
    const catalog = new MemoryCatalog();
    await catalog.upsert([item("a", { category: "shoes", price: 10, features: { color: "red" } }), item("b")]);
    const first = catalog.features("a");
    expect(first).toEqual({ color: "red", category: "shoes", price: 10 });
    expect(catalog.features("a")).toBe(first);
    expect(catalog.features("b")).toBeUndefined();
    expect(catalog.features("unknown")).toBeUndefined();

    await catalog.upsert([item("a", { category: "shoes", price: 12 })]);
    expect(catalog.features("a")).toEqual({ category: "shoes", price: 12 });
    expect(catalog.features("a")).not.toBe(first);
    expect(first).toEqual({ color: "red", category: "shoes", price: 10 }); // a request holding it keeps its view
  });

  it("loads without persisting, and reads items, availability and size as stored", async () => {
    const persisted: string[] = [];
    const catalog = new MemoryCatalog(async (items) => {
      persisted.push(...items.map((i) => i.id));
    });
    catalog.load([item("a", { price: 1 }), item("b", { available: false })]);
    await catalog.upsert([item("c")]);
    expect(persisted).toEqual(["c"]);
    expect(catalog.features("a")).toEqual({ price: 1 });
    expect(catalog.get("b")?.available).toBe(false);
    expect([catalog.isAvailable("a"), catalog.isAvailable("b"), catalog.isAvailable("zz")]).toEqual([
      true,
      false,
      false,
    ]);
    expect(catalog.available(10).map((i) => i.id)).toEqual(["a", "c"]);
    expect(catalog.available(1).map((i) => i.id)).toEqual(["a"]);
    expect(catalog.size()).toBe(3);
  });
});
