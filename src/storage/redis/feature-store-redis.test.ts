import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featureStoreContract } from "../../features/feature-store.contract.js";
import { mkEvent } from "../../features/feature-test-events.js";
import { featuresConfig } from "../../features/features-config.js";
import { createRedisFeatureStore, deleteByPrefix } from "./feature-store-redis.js";
import { connectRedis } from "./redis-connection.js";

const url = process.env.LOOPWISE_TEST_REDIS_URL;
const cluster = process.env.LOOPWISE_TEST_REDIS_CLUSTER;
if (!url) console.warn("skipping Redis feature store tests: LOOPWISE_TEST_REDIS_URL is not set");
if (!cluster) console.warn("skipping Redis Cluster feature store tests: LOOPWISE_TEST_REDIS_CLUSTER is not set");

const runId = `lwtest-feat-${randomBytes(4).toString("hex")}`;

for (const [name, spec] of [
  ["redis single node", url],
  ["redis cluster", cluster],
] as const) {
  describe.skipIf(!spec)(name, () => {
    let client: Redis | Cluster;
    const prefix = `${runId}-${name.replace(/ /g, "-")}`;
    beforeAll(() => {
      client = connectRedis(spec as string);
    });
    afterAll(async () => {
      await deleteByPrefix(client, prefix);
      client.disconnect();
    });

    featureStoreContract(name, async (config) => createRedisFeatureStore(config, client, prefix), {
      appliesOnce: true,
    });

    it("hash-tags a user's keys into one slot and sets the idle TTL on them", async () => {
      const store = createRedisFeatureStore(featuresConfig({ idleTtl: "2h" }), client, `${prefix}-ttl`);
      await store.apply([mkEvent("ttl-user", "view", Date.UTC(2026, 0, 1), { itemId: "x" })]);
      for (const suffix of ["w", "h", "i"]) {
        const pttl = await client.pttl(`{${prefix}-ttl:ttl-user}:${suffix}`);
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(2 * 3_600_000);
      }
      await store.clear();
      expect(await client.exists(`{${prefix}-ttl:ttl-user}:h`)).toBe(0);
    });

    it("keeps the windowed-counter key alive too, even when created after the TTL was last refreshed", async () => {
      const config = featuresConfig({
        idleTtl: "2h",
        custom: [{ name: "clicks_1h", eventTypes: ["click"], aggregate: "count", window: "1h" }],
      });
      const store = createRedisFeatureStore(config, client, `${prefix}-ttlc`);
      const t = Date.UTC(2026, 0, 1);
      await store.apply([mkEvent("c-user", "view", t, { itemId: "x" })]); // refreshes W and H; no C yet
      await store.apply([mkEvent("c-user", "click", t + 1000, { itemId: "x" })]); // creates C
      const pttl = await client.pttl(`{${prefix}-ttlc:c-user}:c`);
      expect(pttl).toBeGreaterThan(0);
      expect((await store.read("c-user", t + 2000)).aggregates.custom_clicks_1h).toBe(1);
      await store.clear();
    });

    it("remembers at most max(windowSize, 1000) applied ids per user: an older retry is applied again", async () => {
      const store = createRedisFeatureStore(featuresConfig({ windowSize: 10 }), client, `${prefix}-ids`);
      const t = Date.UTC(2026, 0, 1);
      const events = Array.from({ length: 1001 }, (_, i) => mkEvent("ids-user", "view", t + i, { eventId: `x${i}` }));
      await store.apply(events);
      expect(await client.zcard(`{${prefix}-ids:ids-user}:i`)).toBe(1000);
      const before = (await store.read("ids-user", t + 2000)).aggregates.session_events;
      expect(before).toBe(1001);
      // Every id arrived in the same millisecond: which one was forgotten is Redis's order; a retry of all
      // 1001 finds exactly one forgotten id and applies only that one.
      await store.apply(events.map((e) => ({ ...e })));
      expect((await store.read("ids-user", t + 2000)).aggregates.session_events).toBe(1002);
      await store.clear();
    });

    it("applies a batch spanning many users in few calls and answers each of them", async () => {
      const store = createRedisFeatureStore(featuresConfig(), client, `${prefix}-batch`);
      const t = Date.UTC(2026, 0, 1);
      const events = Array.from({ length: 600 }, (_, i) =>
        mkEvent(`b${i % 300}`, i < 300 ? "view" : "click", t + i, { itemId: `i${i}` }),
      );
      await store.apply(events);
      const f = await store.read("b7", t + 1000);
      expect([f.aggregates.window_events, f.sessionItems]).toEqual([2, ["i7", "i307"]]);
      await store.clear();
    });
  });
}
