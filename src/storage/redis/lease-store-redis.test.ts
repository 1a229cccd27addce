import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe } from "vitest";
import { leaseStoreContract } from "../../stream/lease-store.contract.js";
import { deleteByPrefix } from "./feature-store-redis.js";
import { createRedisLeaseStore } from "./lease-store-redis.js";
import { connectRedis } from "./redis-connection.js";

const url = process.env.LOOPWISE_TEST_REDIS_URL;
const cluster = process.env.LOOPWISE_TEST_REDIS_CLUSTER;
if (!url) console.warn("skipping Redis lease tests: LOOPWISE_TEST_REDIS_URL is not set");
if (!cluster) console.warn("skipping Redis Cluster lease tests: LOOPWISE_TEST_REDIS_CLUSTER is not set");

const runId = `lwtest-lease-${randomBytes(4).toString("hex")}`;

for (const [name, spec] of [
  ["redis single node", url],
  ["redis cluster", cluster],
] as const) {
  describe.skipIf(!spec)(name, () => {
    let client: Redis | Cluster;
    const prefix = `${runId}-${name.replace(/ /g, "-")}`;
    let n = 0;
    beforeAll(() => {
      client = connectRedis(spec as string);
    });
    afterAll(async () => {
      for (let i = 0; i < n; i++) await deleteByPrefix(client, `${prefix}-${i}`);
      client.disconnect();
    });
    leaseStoreContract(name, async () => ({
      leases: createRedisLeaseStore(client, `${prefix}-${n++}`),
      advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    }));
  });
}
