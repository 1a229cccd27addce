import { describe, expect, it } from "vitest";
import { HOUR, ManualClock, MINUTE } from "../../core/clock.js";
import { featureStoreContract } from "../../features/feature-store.contract.js";
import { mkEvent } from "../../features/feature-test-events.js";
import { featuresConfig } from "../../features/features-config.js";
import { createMemoryFeatureStore, ENTRY_BYTES, sweepBudget, USER_BYTES } from "./feature-store-memory.js";

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

  it("sweeps at most a budget of users per apply, and goes on at the next applies until the sweep is done", async () => {
    const clock = new ManualClock(T0);
    const store = createMemoryFeatureStore(featuresConfig({ idleTtl: "1h" }), clock);
    const users = 3000;
    await store.apply(Array.from({ length: users }, (_, u) => mkEvent(`u${u}`, "view", T0)));
    clock.advance(2 * HOUR);
    // One event: every earlier user is idle. One apply used to drop all 3,000 (a block that grows with the store).
    await store.apply([mkEvent("fresh0", "view", clock.now())]);
    expect(store.evictions()).toBe(sweepBudget(1));
    expect(store.readSync("u2999", clock.now()).known).toBe(false); // idle users read as unknown meanwhile
    let applies = 1;
    while (store.evictions() < users && applies < 100) {
      await store.apply([mkEvent(`fresh${applies}`, "view", clock.now())]);
      applies++;
    }
    expect(applies).toBe(Math.ceil(users / sweepBudget(1)));
    expect(store.size()).toBe(applies);
  });

  it("an over-cap store drains within a few applies when its front users were all active since queued", async () => {
    const clock = new ManualClock(T0);
    const store = createMemoryFeatureStore(featuresConfig({ maxUsers: 2000 }), clock);
    await store.apply(Array.from({ length: 2000 }, (_, u) => mkEvent(`u${u}`, "view", T0)));
    // Every user active again: the next sweep must requeue all 2,000 before it reaches one to evict.
    await store.apply(Array.from({ length: 2000 }, (_, u) => mkEvent(`u${u}`, "view", T0 + 1)));
    for (let i = 0; i < 5; i++) await store.apply([mkEvent(`new${i}`, "view", T0 + 2)]);
    expect(store.size()).toBeGreaterThan(2000); // still sweeping: over the cap by at most these few users
    for (let i = 5; i < 20; i++) await store.apply([mkEvent(`new${i}`, "view", T0 + 2)]);
    expect(store.size()).toBe(2000);
    expect(store.evictions()).toBe(20);
    expect(store.readSync("new19", T0 + 3).known).toBe(true);
  });

  it("keeps every user's row across the slab's pages (rows never move as users are added)", async () => {
    const clock = new ManualClock(T0);
    const store = createMemoryFeatureStore(featuresConfig(), clock);
    const users = 2500; // three pages of 1,024 rows
    for (let round = 0; round < 3; round++) {
      const events = Array.from({ length: users }, (_, u) => mkEvent(`u${u}`, "view", T0 + round));
      await store.apply(events.filter((_, u) => round <= u % 3));
    }
    for (const u of [0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2499]) {
      expect(store.readSync(`u${u}`, T0 + 10).aggregates.events_total).toBe((u % 3) + 1);
    }
  });
});
