import { expect, it } from "vitest";
import { leaseStoreContract } from "../../stream/lease-store.contract.js";
import { createRedisLeaseStore } from "./lease-store-redis.js";
import { describeOnRedis } from "./test-redis.js";

describeOnRedis("Redis lease", (redis) => {
  leaseStoreContract(redis.name, async () => ({
    leases: createRedisLeaseStore(redis.client(), redis.freshPrefix()),
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
  }));

  it(`${redis.name}: tokens stay above every earlier token after Redis lost its data (PostgreSQL keeps the fences)`, async () => {
    const client = redis.client();
    const prefix = redis.freshPrefix();
    const leases = createRedisLeaseStore(client, prefix);
    const first = await leases.acquire("learner:p", "worker-a", 10_000);
    expect(first).toBeDefined();
    expect(await leases.release("learner:p", "worker-a", first!)).toBe(true);
    const second = await leases.acquire("learner:p", "worker-b", 10_000);
    expect(second).toBeGreaterThan(first!);
    // Redis restarted empty: the lease and its counter are gone (the lease's keys share one hash tag).
    await client.del(`{${prefix}:lease:learner:p}`, `{${prefix}:lease:learner:p}:token`);
    const afterLoss = await leases.acquire("learner:p", "worker-c", 10_000);
    expect(afterLoss).toBeGreaterThan(second!);
    expect(Number.isSafeInteger(afterLoss)).toBe(true);
    // Renewal and fenced writes compare the token as stored: the returned number must match it exactly.
    expect(await leases.renew("learner:p", "worker-c", afterLoss!, 10_000)).toBe(true);
    expect(await leases.fencedWrite("learner:p", afterLoss!, "checkpoint", new Uint8Array([1, 2, 3]))).toBe(true);
  });
});
