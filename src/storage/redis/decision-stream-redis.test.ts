import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decisionStreamContract } from "../../stream/decision-stream.contract.js";
import { streamDeliveryProperty } from "../../stream/decision-stream.property.js";
import { decisionEntries } from "../../stream/stream-fixtures.js";
import { createRedisDecisionStream } from "./decision-stream-redis.js";
import { deleteByPrefix } from "./feature-store-redis.js";
import { connectRedis } from "./redis-connection.js";

const url = process.env.LOOPWISE_TEST_REDIS_URL;
const cluster = process.env.LOOPWISE_TEST_REDIS_CLUSTER;
if (!url) console.warn("skipping Redis decision stream tests: LOOPWISE_TEST_REDIS_URL is not set");
if (!cluster) console.warn("skipping Redis Cluster decision stream tests: LOOPWISE_TEST_REDIS_CLUSTER is not set");

const runId = `lwtest-stream-${randomBytes(4).toString("hex")}`;

for (const [name, spec] of [
  ["redis single node", url],
  ["redis cluster", cluster],
] as const) {
  describe.skipIf(!spec)(name, () => {
    let client: Redis | Cluster;
    let n = 0;
    const prefix = `${runId}-${name.replace(/ /g, "-")}`;
    beforeAll(() => {
      client = connectRedis(spec as string);
    });
    afterAll(async () => {
      for (let i = 0; i < n; i++) await deleteByPrefix(client, `${prefix}-${i}`);
      await deleteByPrefix(client, `${prefix}-tags`);
      client.disconnect();
    });

    decisionStreamContract(name, async (partitions) => ({
      stream: createRedisDecisionStream(client, { partitions, keyPrefix: `${prefix}-${n++}` }),
      advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    }));

    streamDeliveryProperty(
      name,
      async (partitions) => ({
        stream: createRedisDecisionStream(client, { partitions, keyPrefix: `${prefix}-${n++}` }),
        advance: (ms) => new Promise((r) => setTimeout(r, ms)),
      }),
      15,
    );

    it("keeps each partition under its own hash tag, spread over the cluster's slots", async () => {
      const keyPrefix = `${prefix}-tags`;
      const stream = createRedisDecisionStream(client, { partitions: 8, keyPrefix });
      await stream.append(Array.from({ length: 64 }, (_, i) => decisionEntries(`tag-${i}`, 1)[0]!));
      const slots = new Set<number>();
      for (let p = 0; p < 8; p++) {
        expect(await client.xlen(`{${keyPrefix}:stream:${p}}`)).toBeGreaterThan(0);
        slots.add(Number(await client.call("CLUSTER", "KEYSLOT", `{${keyPrefix}:stream:${p}}`).catch(() => p)));
      }
      expect(slots.size).toBeGreaterThan(1);
      await stream.close();
    });
  });
}
