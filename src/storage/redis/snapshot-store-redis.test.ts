import { expect, it } from "vitest";
import { snapshotStoreContract } from "../../stream/snapshot-store.contract.js";
import { SnapshotFencedOut, SnapshotVersionConflict } from "../../stream/snapshot-store.js";
import { RANGE_BYTES } from "./redis-ranges.js";
import { createRedisSnapshotStore } from "./snapshot-store-redis.js";
import { describeOnRedis, patterned, stagingKeys } from "./test-redis.js";

describeOnRedis("Redis snapshot", (redis) => {
  snapshotStoreContract(redis.name, async () =>
    createRedisSnapshotStore(redis.client(), { keyPrefix: redis.freshPrefix(), keepFull: 2 }),
  );

  it("publishes a version over a range staged in ranges; a refused one leaves nothing behind", async () => {
    const keyPrefix = redis.freshPrefix();
    const store = createRedisSnapshotStore(redis.client(), { keyPrefix, keepFull: 2 });
    const full = patterned(3.5 * RANGE_BYTES, 3);
    await store.publish("big", 1, full, "full", 5);
    await store.publish("big", 2, new Uint8Array([9]), "delta", 5);
    const [read] = await store.since("big", 0);
    expect(read?.version).toBe(1);
    expect(Buffer.from(read!.bytes).equals(Buffer.from(full))).toBe(true);
    expect(Buffer.from((await store.range("big", 1, RANGE_BYTES, 2 * RANGE_BYTES + 3))!)).toEqual(
      Buffer.from(full.subarray(RANGE_BYTES, 2 * RANGE_BYTES + 3)),
    );
    await expect(store.publish("big", 3, full, "full", 4)).rejects.toBeInstanceOf(SnapshotFencedOut);
    await expect(store.publish("big", 2, full, "full", 5)).rejects.toBeInstanceOf(SnapshotVersionConflict);
    expect(await stagingKeys(redis.client(), keyPrefix)).toEqual([]);
    expect((await store.latest("big"))?.version).toBe(2);
    expect(await redis.client().pttl(`{${keyPrefix}:snap:big}:v:1`)).toBe(-1);
    await store.close();
  });

  it("deletes the bytes of versions it no longer keeps", async () => {
    const keyPrefix = redis.freshPrefix();
    const store = createRedisSnapshotStore(redis.client(), { keyPrefix, keepFull: 1 });
    await store.publish("gc", 1, new Uint8Array([1]), "full");
    await store.publish("gc", 2, new Uint8Array([2]), "delta");
    await store.publish("gc", 3, new Uint8Array([3]), "full");
    const tag = `{${keyPrefix}:snap:gc}`;
    expect(await redis.client().exists(`${tag}:v:1`, `${tag}:v:2`)).toBe(0);
    expect(await redis.client().exists(`${tag}:v:3`)).toBe(1);
    await store.close();
  });

  it("tells a subscriber of a new version through pub/sub, without waiting for a poll", async () => {
    const keyPrefix = redis.freshPrefix();
    const listening = createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 600_000 });
    const publishing = createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 600_000 });
    let resolveHeard: (v: number) => void = () => {};
    const heard = new Promise<number>((resolve) => {
      resolveHeard = resolve;
    });
    await listening.subscribe("fast", (v) => resolveHeard(v));
    await publishing.publish("fast", 1, new Uint8Array([1]), "full");
    expect(await heard).toBe(1);
    await Promise.all([listening.close(), publishing.close()]);
  });

  it("tells a subscriber of a version whose message it missed, by polling", async () => {
    const keyPrefix = redis.freshPrefix();
    const store = createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 20 });
    let resolveHeard: (v: number) => void = () => {};
    const heard = new Promise<number>((resolve) => {
      resolveHeard = resolve;
    });
    await store.subscribe("quiet", (v) => resolveHeard(v));
    // Written without the PUBLISH message, as if the subscriber had been disconnected when it was sent.
    const other = createRedisSnapshotStore(redis.client(), { keyPrefix, pollMs: 20 });
    await redis.client().zadd(`{${keyPrefix}:snap:quiet}:index`, 1, "1:full");
    await redis.client().set(`{${keyPrefix}:snap:quiet}:v:1`, Buffer.from([7]));
    expect(await heard).toBe(1);
    expect((await other.since("quiet", undefined)).map((s) => [...s.bytes])).toEqual([[7]]);
    await Promise.all([store.close(), other.close()]);
  });
});
