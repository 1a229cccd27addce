import { describe, expect, it } from "vitest";
import { HOUR, ManualClock, MINUTE } from "../../core/clock.js";
import { featureStoreContract } from "../../features/feature-store.contract.js";
import { mkEvent } from "../../features/feature-test-events.js";
import { featuresConfig } from "../../features/features-config.js";
import { createMemoryFeatureStore, ENTRY_BYTES, USER_BYTES } from "./feature-store-memory.js";

featureStoreContract("memory", async (config) => createMemoryFeatureStore(config, new ManualClock()));

describe("memory feature store bounds", () => {
  const T0 = Date.UTC(2026, 0, 1);

  it("evicts the least recently active user beyond maxUsers", async () => {
    const clock = new ManualClock(T0);
    const store = createMemoryFeatureStore(featuresConfig({ maxUsers: 2 }), clock);
    await store.apply([mkEvent("a", "view", T0), mkEvent("b", "view", T0), mkEvent("a", "view", T0 + 1)]);
    await store.apply([mkEvent("c", "view", T0 + 2)]);
    expect(store.size()).toBe(2);
    expect([store.readSync("a", T0).known, store.readSync("b", T0).known, store.readSync("c", T0).known]).toEqual([
      true,
      false,
      true,
    ]);
    expect(store.evictions()).toBe(1);
  });

  it("drops users idle longer than idleTtl (by the store's clock), on read and by sweeping", async () => {
    const clock = new ManualClock(T0);
    const store = createMemoryFeatureStore(featuresConfig({ idleTtl: "1h" }), clock);
    await store.apply([mkEvent("a", "view", T0), mkEvent("b", "view", T0)]);
    clock.advance(30 * MINUTE);
    await store.apply([mkEvent("b", "view", T0 + 30 * MINUTE)]);
    clock.advance(HOUR);
    expect(store.readSync("a", clock.now()).known).toBe(false);
    expect(store.readSync("b", clock.now()).known).toBe(true);
    clock.advance(HOUR);
    await store.apply([mkEvent("c", "view", clock.now())]);
    expect(store.size()).toBe(1);
  });

  it("evicts the least recently active users beyond maxBytes, counting window entries as they are trimmed", async () => {
    const clock = new ManualClock(T0);
    const maxBytes = 1024 * 1024;
    const store = createMemoryFeatureStore(featuresConfig({ maxBytes, windowSize: 30 }), clock);
    // 1,000 users with 40 events each: 30 stay in each window (windowSize), ~5.5 KB a user, so ~190 fit.
    for (let u = 0; u < 1000; u++) {
      await store.apply(Array.from({ length: 40 }, (_, i) => mkEvent(`u${u}`, "view", T0 + u * 100 + i)));
    }
    const perUser = USER_BYTES + 30 * ENTRY_BYTES;
    expect(store.bytes()).toBe(store.size() * perUser);
    expect(store.bytes()).toBeLessThanOrEqual(maxBytes);
    expect(store.size()).toBe(Math.floor(maxBytes / perUser));
    expect(store.evictions()).toBe(1000 - store.size());
    expect(store.readSync("u999", T0 + 200_000).known).toBe(true);
    expect(store.readSync("u0", T0 + 200_000).known).toBe(false);
    await store.clear();
    expect(store.bytes()).toBe(0);
  });
});
