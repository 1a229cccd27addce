import { describe, expect, it } from "vitest";
import { MINUTE } from "../core/clock.js";
import { featuresConfigSchema } from "./features-config.js";
import { decodeEntry, encodeEntry, type WindowEntry } from "./window-entry.js";

describe("featuresConfigSchema", () => {
  it("defaults to N=100, T=30 min, gap 30 min, k=5", () => {
    const c = featuresConfigSchema.parse({});
    expect([c.windowSize, c.windowDuration, c.sessionGap, c.k, c.custom]).toEqual([
      100,
      30 * MINUTE,
      30 * MINUTE,
      5,
      [],
    ]);
  });

  it("parses durations and custom aggregates, and rejects impossible ones with the field named", () => {
    const c = featuresConfigSchema.parse({
      windowSize: 500,
      custom: [{ name: "clicks_1h", aggregate: "count", window: "1h" }],
    });
    expect(c.custom[0]?.window).toBe(60 * MINUTE);
    const bad = featuresConfigSchema.safeParse({
      custom: [
        { name: "s", aggregate: "sum", field: "itemId" },
        { name: "d", aggregate: "distinct", window: "lifetime" },
        { name: "d", aggregate: "count", window: "soon" },
      ],
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join(".")).sort();
    expect(paths).toEqual(["custom.0.field", "custom.1.window", "custom.2.window"]);
  });
});

describe("window entries", () => {
  it("round-trip through the Redis member encoding, including zero prices and absent fields", () => {
    const entries: WindowEntry[] = [
      { id: "a", t: 1, type: "view" },
      { id: 'b"}', t: 1.5, type: "purchase", item: "i", cat: "ü", price: 0, value: 12.3, sid: "s" },
    ];
    for (const e of entries) expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });
});
