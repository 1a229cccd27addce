import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { mkEvent } from "../features/feature-test-events.js";
import { featuresConfig } from "../features/features-config.js";
import { createMemoryFeatureStore, ENTRY_BYTES, USER_BYTES } from "../storage/memory/feature-store-memory.js";
import { registerFeatureStoreMetrics } from "./feature-store-metrics.js";

describe("feature store metrics", () => {
  it("report resident users, their estimated bytes and evictions when scraped", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const store = createMemoryFeatureStore(featuresConfig({ maxUsers: 2 }), clock);
    const registry = new Registry();
    registerFeatureStoreMetrics(registry, store);
    const t = clock.now();
    await store.apply([mkEvent("a", "view", t), mkEvent("b", "view", t), mkEvent("b", "click", t + 1)]);
    await store.apply([mkEvent("c", "view", t + 2)]);
    const text = await registry.metrics();
    expect(text).toContain("loopwise_feature_users 2");
    expect(text).toContain(`loopwise_feature_bytes ${2 * USER_BYTES + 3 * ENTRY_BYTES}`);
    expect(text).toContain("loopwise_feature_evictions 1");
  });
});
