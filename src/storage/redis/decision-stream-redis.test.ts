import { expect, it } from "vitest";
import { decisionStreamContract } from "../../stream/decision-stream.contract.js";
import { streamDeliveryProperty } from "../../stream/decision-stream.property.js";
import { decisionEntries } from "../../stream/stream-fixtures.js";
import { createRedisDecisionStream } from "./decision-stream-redis.js";
import { describeOnRedis } from "./test-redis.js";

describeOnRedis("Redis decision stream", (redis) => {
  decisionStreamContract(redis.name, async (partitions) => ({
    stream: createRedisDecisionStream(redis.client(), { partitions, keyPrefix: redis.freshPrefix() }),
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
  }));

  streamDeliveryProperty(
    redis.name,
    async (partitions) => ({
      stream: createRedisDecisionStream(redis.client(), { partitions, keyPrefix: redis.freshPrefix() }),
      advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    }),
    15,
  );

  it("keeps each partition under its own hash tag, spread over the cluster's slots", async () => {
    const keyPrefix = redis.freshPrefix();
    const stream = createRedisDecisionStream(redis.client(), { partitions: 8, keyPrefix });
    await stream.append(Array.from({ length: 64 }, (_, i) => decisionEntries(`tag-${i}`, 1)[0]!));
    const slots = new Set<number>();
    for (let p = 0; p < 8; p++) {
      expect(await redis.client().xlen(`{${keyPrefix}:stream:${p}}`)).toBeGreaterThan(0);
      slots.add(
        Number(
          await redis
            .client()
            .call("CLUSTER", "KEYSLOT", `{${keyPrefix}:stream:${p}}`)
            .catch(() => p),
        ),
      );
    }
    expect(slots.size).toBeGreaterThan(1);
    await stream.close();
  });
});
