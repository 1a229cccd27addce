import { createHash } from "node:crypto";
import { Cluster, Redis } from "ioredis";

/**
 * Connects to Redis from one string: a URL (`redis://127.0.0.1:6390`) for a single node, or a
 * comma-separated list of `host:port` seeds (`127.0.0.1:7100,127.0.0.1:7101`) for Redis Cluster
 * (`cluster: true` forces Cluster with a single seed).
 */
export function connectRedis(spec: string, options: { cluster?: boolean } = {}): Redis | Cluster {
  const parts = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length > 1 || options.cluster) {
    const nodes = parts.map((p) => {
      const u = new URL(p.includes("://") ? p : `redis://${p}`);
      return { host: u.hostname, port: Number(u.port || 6379) };
    });
    return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 3 } });
  }
  return new Redis(parts[0] ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 3 });
}

/** A Lua script run by EVALSHA, loaded with EVAL on NOSCRIPT (a new node, a restarted or flushed server). */
export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: Redis | Cluster, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw e;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Every master of a cluster, or the client itself for a single node (for SCAN-based maintenance). */
export function masters(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}
