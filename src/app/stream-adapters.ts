import type { Clock } from "../core/clock.js";
import type { StreamAdapters } from "../duties/duty.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { createRedisDecisionStream } from "../storage/redis/decision-stream-redis.js";
import { createRedisLeaseStore } from "../storage/redis/lease-store-redis.js";
import { connectRedis } from "../storage/redis/redis-connection.js";
import { createRedisSnapshotStore } from "../storage/redis/snapshot-store-redis.js";
import type { LoopwiseConfig } from "./config.js";

/** The adapters an engine runs on, whether they are shared with other processes, and how to close them. */
export interface OpenedStreamAdapters {
  adapters: StreamAdapters;
  /** True on Redis: other processes see the same stream, leases and snapshots (scale-out). */
  shared: boolean;
  close(): Promise<void>;
}

/**
 * Opens the decision stream, leases and snapshots from the config: Redis when `storage.redisUrl` is set (one
 * connection shared by the three; the stream's blocking reads open a second one of their own), else the
 * in-process adapters. `given` replaces any of them (tests, createTestEngine); the caller keeps ownership of
 * what it gave, so those are not closed here.
 */
export function openStreamAdapters(
  config: LoopwiseConfig,
  clock: Clock,
  given: Partial<StreamAdapters> = {},
): OpenedStreamAdapters {
  const { redisUrl, redisCluster, redisPrefix } = config.storage;
  const partitions = config.stream.partitions;
  // Nothing left to open (a test engine gives all three): no connection to Redis either.
  if (!redisUrl || (given.stream && given.leases && given.snapshots)) {
    const opened: StreamAdapters = {
      stream: given.stream ?? createMemoryDecisionStream({ partitions, clock }),
      leases: given.leases ?? createMemoryLeaseStore(clock),
      snapshots: given.snapshots ?? createMemorySnapshotStore(),
    };
    return { adapters: opened, shared: false, close: () => closeOwned(opened, given) };
  }
  const redis = connectRedis(redisUrl, { cluster: redisCluster });
  const opened: StreamAdapters = {
    stream: given.stream ?? createRedisDecisionStream(redis, { partitions, keyPrefix: redisPrefix }),
    leases: given.leases ?? createRedisLeaseStore(redis, redisPrefix),
    snapshots: given.snapshots ?? createRedisSnapshotStore(redis, { keyPrefix: redisPrefix }),
  };
  return {
    adapters: opened,
    shared: true,
    close: async () => {
      await closeOwned(opened, given);
      redis.disconnect();
    },
  };
}

async function closeOwned(opened: StreamAdapters, given: Partial<StreamAdapters>): Promise<void> {
  if (!given.stream) await opened.stream.close();
  if (!given.leases) await opened.leases.close();
  if (!given.snapshots) await opened.snapshots.close();
}
