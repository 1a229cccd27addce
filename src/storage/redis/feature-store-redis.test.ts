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

    featureStoreContract(name, async (config) => createRedisFeatureStore(config, client, prefix));

    it("hash-tags a user's keys into one slot and sets the idle TTL on them", async () => {
      const store = createRedisFeatureStore(featuresConfig({ idleTtl: "2h" }), client, `${prefix}-ttl`);
      await store.apply([mkEvent("ttl-user", "view", Date.UTC(2026, 0, 1), { itemId: "x" })]);
      for (const suffix of ["w", "h", "s"]) {
        const pttl = await client.pttl(`{${prefix}-ttl:ttl-user}:${suffix}`);
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(2 * 3_600_000);
      }
      await store.clear();
      expect(await client.exists(`{${prefix}-ttl:ttl-user}:h`)).toBe(0);
    });
  });
}
