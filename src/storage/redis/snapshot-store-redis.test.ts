import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotStoreContract } from "../../stream/snapshot-store.contract.js";
import { deleteByPrefix } from "./feature-store-redis.js";
import { connectRedis } from "./redis-connection.js";
import { createRedisSnapshotStore } from "./snapshot-store-redis.js";

const url = process.env.LOOPWISE_TEST_REDIS_URL;
const cluster = process.env.LOOPWISE_TEST_REDIS_CLUSTER;
if (!url) console.warn("skipping Redis snapshot tests: LOOPWISE_TEST_REDIS_URL is not set");
if (!cluster) console.warn("skipping Redis Cluster snapshot tests: LOOPWISE_TEST_REDIS_CLUSTER is not set");

const runId = `lwtest-snap-${randomBytes(4).toString("hex")}`;

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
    snapshotStoreContract(name, async () =>
      createRedisSnapshotStore(client, { keyPrefix: `${prefix}-${n++}`, keepFull: 2 }),
    );

    it("deletes the bytes of versions it no longer keeps", async () => {
      const keyPrefix = `${prefix}-${n++}`;
      const store = createRedisSnapshotStore(client, { keyPrefix, keepFull: 1 });
      await store.publish("gc", 1, new Uint8Array([1]), "full");
      await store.publish("gc", 2, new Uint8Array([2]), "delta");
      await store.publish("gc", 3, new Uint8Array([3]), "full");
      const tag = `{${keyPrefix}:snap:gc}`;
      expect(await client.exists(`${tag}:v:1`, `${tag}:v:2`)).toBe(0);
      expect(await client.exists(`${tag}:v:3`)).toBe(1);
      await store.close();
    });

    it("tells a subscriber of a new version through pub/sub, without waiting for a poll", async () => {
      const keyPrefix = `${prefix}-${n++}`;
      const listening = createRedisSnapshotStore(client, { keyPrefix, pollMs: 600_000 });
      const publishing = createRedisSnapshotStore(client, { keyPrefix, pollMs: 600_000 });
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
      const keyPrefix = `${prefix}-${n++}`;
      const store = createRedisSnapshotStore(client, { keyPrefix, pollMs: 20 });
      let resolveHeard: (v: number) => void = () => {};
      const heard = new Promise<number>((resolve) => {
        resolveHeard = resolve;
      });
      await store.subscribe("quiet", (v) => resolveHeard(v));
      // Written without the PUBLISH message, as if the subscriber had been disconnected when it was sent.
      const other = createRedisSnapshotStore(client, { keyPrefix, pollMs: 20 });
      await client.zadd(`{${keyPrefix}:snap:quiet}:index`, 1, "1:full");
      await client.set(`{${keyPrefix}:snap:quiet}:v:1`, Buffer.from([7]));
      expect(await heard).toBe(1);
      expect((await other.since("quiet", undefined)).map((s) => [...s.bytes])).toEqual([[7]]);
      await Promise.all([store.close(), other.close()]);
    });
  });
}
