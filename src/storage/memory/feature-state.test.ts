import { describe, expect, it } from "vitest";
import { computeFeatures } from "../../features/compute-features.js";
import { generateEvents, mkEvent } from "../../features/feature-test-events.js";
import { writesFor } from "../../features/feature-writes.js";
import { type FeaturesConfig, featuresConfig } from "../../features/features-config.js";
import { FeatureRows, type UserSlot } from "./feature-state.js";

const T0 = Date.UTC(2026, 2, 2, 10);

const CUSTOM = featuresConfig({
  windowSize: 8,
  windowDuration: "10m",
  sessionGap: "2m",
  k: 3,
  custom: [
    { name: "views_w", eventTypes: ["view"], aggregate: "count", window: "window" },
    { name: "spend_life", eventTypes: ["purchase"], aggregate: "sum", field: "value", window: "lifetime" },
    { name: "price_sess", aggregate: "mean", field: "price", window: "session" },
    { name: "last_cat_1h", aggregate: "last", field: "category", window: "1h" },
    { name: "clicks_2h", eventTypes: ["click"], aggregate: "count", window: "2h" },
  ],
});

/** Replays `events` through both ways into the rows and compares every read after every event. */
function compareWays(config: FeaturesConfig, seed: number): number {
  const fast = new FeatureRows();
  const generic = new FeatureRows();
  const slots = new Map<string, [UserSlot, UserSlot]>();
  let reads = 0;
  for (const e of generateEvents({ users: 8, events: 1500, start: T0, seed, lateShare: 0.3, categories: 12 })) {
    let s = slots.get(e.userId);
    if (s === undefined) {
      s = [fast.alloc(), generic.alloc()];
      slots.set(e.userId, s);
    }
    fast.applyEvent(s[0], e, config);
    generic.apply(s[1], writesFor(e, config));
    for (const now of [e.timestamp, e.timestamp + 3 * 60_000]) {
      const a = computeFeatures(e.userId, fast.snapshot(s[0]), config, now);
      expect(a).toEqual(computeFeatures(e.userId, generic.snapshot(s[1]), config, now));
      reads++;
    }
  }
  return reads;
}

describe("FeatureRows", () => {
  it("the ingest fast path (applyEvent) and the writes-as-data path (apply) read identically", () => {
    expect(compareWays(featuresConfig(), 11)).toBe(3000);
    expect(compareWays(CUSTOM, 12)).toBe(3000);
  });

  it("a released slot is reused empty", () => {
    const rows = new FeatureRows();
    const a = rows.alloc();
    rows.applyEvent(a, mkEvent("a", "click", T0, { itemId: "i", sessionId: "S" }), CUSTOM);
    expect(computeFeatures("a", rows.snapshot(a), CUSTOM, T0).known).toBe(true);
    rows.release(a);
    const b = rows.alloc();
    expect(b.slot).toBe(a.slot);
    const f = computeFeatures("b", rows.snapshot(b), CUSTOM, T0);
    expect([f.known, f.sessionId, f.aggregates.secs_since_last_click, f.aggregates.window_events]).toEqual([
      false,
      undefined,
      -1,
      0,
    ]);
  });

  it("grows its slab past the initial capacity and keeps earlier users", () => {
    const rows = new FeatureRows();
    const slots = Array.from({ length: 3000 }, (_, i) => {
      const s = rows.alloc();
      rows.applyEvent(s, mkEvent(`u${i}`, "view", T0 + i, { itemId: `i${i}` }), CUSTOM);
      return s;
    });
    const first = computeFeatures("u0", rows.snapshot(slots[0] as UserSlot), CUSTOM, T0 + 5000);
    expect([first.aggregates.events_total, first.sessionItems]).toEqual([1, ["i0"]]);
  });
});
