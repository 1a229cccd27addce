import { expect, it } from "vitest";
import { leaseStoreContract } from "../../stream/lease-store.contract.js";
import { createRedisLeaseStore } from "./lease-store-redis.js";
import { RANGE_BYTES } from "./redis-ranges.js";
import { describeOnRedis, patterned, stagingKeys } from "./test-redis.js";

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

  it(`${redis.name}: a value over a range is staged in ranges, renamed into place whole, and read back exactly`, async () => {
    const client = redis.client();
    const prefix = redis.freshPrefix();
    const leases = createRedisLeaseStore(client, prefix);
    const token = (await leases.acquire("learner:p", "worker-a", 10_000))!;
    const first = patterned(3.5 * RANGE_BYTES, 1);
    const second = patterned(2 * RANGE_BYTES + 5, 2);
    expect(await leases.fencedWrite("learner:p", token, "checkpoint", first)).toBe(true);
    expect(Buffer.from((await leases.fencedRead("learner:p", "checkpoint"))!).equals(Buffer.from(first))).toBe(true);
    expect(await leases.fencedWrite("learner:p", token, "checkpoint", second)).toBe(true);
    expect(Buffer.from((await leases.fencedRead("learner:p", "checkpoint"))!).equals(Buffer.from(second))).toBe(true);
    // The data key keeps no expiry of its staging; a stale token's staged value is dropped, the last one stays.
    expect(await client.pttl(`{${prefix}:lease:learner:p}:data:checkpoint`)).toBe(-1);
    await client.del(`{${prefix}:lease:learner:p}`); // lapsed
    const next = (await leases.acquire("learner:p", "worker-b", 10_000))!;
    expect(await leases.fencedWrite("learner:p", token, "checkpoint", first)).toBe(false);
    expect(Buffer.from((await leases.fencedRead("learner:p", "checkpoint"))!).equals(Buffer.from(second))).toBe(true);
    expect(await stagingKeys(client, prefix)).toEqual([]);
    expect(await leases.fencedWrite("learner:p", next, "checkpoint", first)).toBe(true);
    expect(Buffer.from((await leases.fencedRead("learner:p", "checkpoint"))!).equals(Buffer.from(first))).toBe(true);
    expect(await leases.fencedRead("learner:p", "missing")).toBeUndefined();
  });
});
