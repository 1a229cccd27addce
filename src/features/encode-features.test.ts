import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { hashIndex } from "../core/hash.js";
import { createMemoryFeatureStore } from "../storage/memory/feature-store-memory.js";
import { encodeFeatures, featureNames } from "./encode-features.js";
import { mkEvent } from "./feature-test-events.js";
import { featuresConfig } from "./features-config.js";

const T0 = Date.UTC(2026, 2, 4, 18, 0); // a Wednesday

describe("encodeFeatures", () => {
  const config = featuresConfig({
    custom: [
      { name: "spend", aggregate: "sum", field: "value", window: "lifetime" },
      { name: "last_item", aggregate: "last", window: "session" },
    ],
  });
  const store = createMemoryFeatureStore(config, new ManualClock(T0));

  it("has the same names, in the same order, for a known and an unknown user", async () => {
    await store.apply([
      mkEvent("u", "view", T0, { itemId: "i1", category: "shoes", price: 40 }),
      mkEvent("u", "purchase", T0 + 1000, { itemId: "i1", category: "shoes", value: 40 }),
    ]);
    const known = encodeFeatures(store.readSync("u", T0 + 2000).aggregates);
    const unknown = encodeFeatures(store.readSync("nobody", T0).aggregates);
    expect(known.names).toEqual(unknown.names);
    expect(known.values).toHaveLength(known.names.length);
    expect(new Set(known.names).size).toBe(known.names.length);
    expect(known.names.slice(0, 3)).toEqual(["bias", "events_total:log1p", "sessions_total:log1p"]);
    expect(known.names).toContain("custom_spend");
    expect(known.names).not.toContain("custom_last_item"); // a string aggregate goes to the hashed block
  });

  it("encodes counts as log1p, never-seen recency as an indicator and hour on the circle", async () => {
    const { names, values } = encodeFeatures(store.readSync("u", T0 + 2000).aggregates);
    const v = (n: string) => values[names.indexOf(n)];
    expect(v("bias")).toBe(1);
    expect(v("session_events:log1p")).toBeCloseTo(Math.log(3));
    expect(v("secs_since_last_click:never")).toBe(1);
    expect(v("secs_since_last_click:log1p")).toBe(0);
    expect(v("secs_since_last_purchase:never")).toBe(0);
    expect(v("secs_since_last_purchase:log1p")).toBeCloseTo(Math.log1p(1));
    expect(v("local_hour:sin")).toBeCloseTo(-1); // 18:00 UTC, no time zone known
    expect(v("local_weekday=3")).toBe(1);
    expect(v("custom_spend")).toBe(40);
  });

  it("hashes open vocabularies: last categories, affinities and request context", () => {
    const { names, values } = encodeFeatures(
      { last_category_0: "shoes", last_category_1: "hats", affinity_category_0: "shoes", affinity_score_0: 2.5 },
      { device: "mobile", price_sensitivity: 0.3 },
      { hashDims: 8 },
    );
    const at = (block: string, key: string, seed: number) =>
      values[names.indexOf(`${block}#${hashIndex(key, 8, seed)}`)];
    const lastShoes = at("last_category", "shoes", 0x1a57ca7);
    expect(lastShoes).toBeGreaterThanOrEqual(1);
    expect(at("affinity", "shoes", 0xaff1)).toBe(2.5);
    expect(at("context", "ctx:device=mobile", 0xc0de)).toBeGreaterThanOrEqual(1);
    const lastBlock = names.map((n, i) => (n.startsWith("last_category#") ? values[i] : 0) as number);
    expect(lastBlock.reduce((x, y) => x + y, 0)).toBeCloseTo(1.5); // 1/1 + 1/2
    expect(featureNames({ hashDims: 8 }, []).filter((n) => n.startsWith("context#"))).toHaveLength(8);
  });
});
