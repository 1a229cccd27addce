import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe } from "vitest";
import { deleteByPrefix } from "./feature-store-redis.js";
import { connectRedis, masters } from "./redis-connection.js";

/** One Redis a test suite runs against, with key prefixes of its own that are deleted after the suite. */
export interface RedisTestTarget {
  name: string;
  /** The connection (open from `beforeAll` on). */
  client(): Redis | Cluster;
  /** A key prefix no other test (or test file, or run) uses. */
  freshPrefix(): string;
}

/**
 * Runs `body` once against the single node (LOOPWISE_TEST_REDIS_URL) and once against the Cluster
 * (LOOPWISE_TEST_REDIS_CLUSTER), each skipped with a warning when its variable is not set.
 */
export function describeOnRedis(what: string, body: (target: RedisTestTarget) => void): void {
  const targets = [
    ["redis single node", "LOOPWISE_TEST_REDIS_URL"],
    ["redis cluster", "LOOPWISE_TEST_REDIS_CLUSTER"],
  ] as const;
  const runId = `lwtest-${what.replace(/\W+/g, "-")}-${randomBytes(4).toString("hex")}`;
  for (const [name, variable] of targets) {
    const spec = process.env[variable];
    if (!spec) console.warn(`skipping ${what} tests on the ${name}: ${variable} is not set`);
    describe.skipIf(!spec)(name, () => {
      let client: Redis | Cluster | undefined;
      const prefixes: string[] = [];
      beforeAll(() => {
        client = connectRedis(spec as string);
      });
      afterAll(async () => {
        if (!client) return;
        for (const prefix of prefixes) await deleteByPrefix(client, prefix);
        client.disconnect();
      });
      body({
        name,
        client: () => client as Redis | Cluster,
        freshPrefix: () => {
          const prefix = `${runId}-${name.replace(/ /g, "-")}-${prefixes.length}`;
          prefixes.push(prefix);
          return prefix;
        },
      });
    });
  }
}

/** `n` bytes that differ from range to range (a range written at the wrong offset shows). */
export function patterned(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(Math.floor(n));
  for (let i = 0; i < out.length; i++) out[i] = (i * 31 + seed * 7 + (i >> 20)) & 0xff;
  return out;
}

/** Staging keys left under `prefix` on every master. */
export async function stagingKeys(client: Parameters<typeof masters>[0], prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of masters(client)) found.push(...(await node.keys(`{${prefix}:*:staging:*`)));
  return found;
}
