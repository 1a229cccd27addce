import { leaseStoreContract } from "../../stream/lease-store.contract.js";
import { createRedisLeaseStore } from "./lease-store-redis.js";
import { describeOnRedis } from "./test-redis.js";

describeOnRedis("Redis lease", (redis) => {
  leaseStoreContract(redis.name, async () => ({
    leases: createRedisLeaseStore(redis.client(), redis.freshPrefix()),
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
  }));
});
