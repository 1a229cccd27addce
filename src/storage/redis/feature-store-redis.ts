import type { Cluster, Redis } from "ioredis";
import type { UserEvent } from "../../core/types.js";
import { computeFeatures } from "../../features/compute-features.js";
import type { FeatureSnapshot } from "../../features/feature-snapshot.js";
import type { FeatureStore, UserFeatures } from "../../features/feature-store.js";
import { type Write, writesFor } from "../../features/feature-writes.js";
import type { FeaturesConfig } from "../../features/features-config.js";
import { decodeEntry, encodeEntry } from "../../features/window-entry.js";
import { APPLY_LUA, READ_LUA } from "./feature-lua.js";
import { LuaScript, masters } from "./redis-connection.js";

const applyScript = new LuaScript(APPLY_LUA);
const readScript = new LuaScript(READ_LUA);

/**
 * The feature store on Redis (single node or Cluster), shared by many API processes. Per user four keys
 * hash-tagged `{prefix:userId}` (one slot); applying a user's events is one EVALSHA (one round trip, atomic),
 * a read is one EVALSHA. Idle users disappear by key expiry (`idleTtl`, refreshed by every applied event).
 * The caller owns the connection: `close()` does not quit it.
 */
export function createRedisFeatureStore(
  config: FeaturesConfig,
  redis: Redis | Cluster,
  keyPrefix: string,
): FeatureStore {
  if (!/^[A-Za-z0-9_.:-]+$/.test(keyPrefix)) {
    throw new Error(
      `feature store key prefix "${keyPrefix}" must match [A-Za-z0-9_.:-]+ (it goes inside a {hash tag})`,
    );
  }
  const keys = (userId: string): string[] => {
    const tag = `{${keyPrefix}:${userId}}`;
    return [`${tag}:w`, `${tag}:h`, `${tag}:s`, `${tag}:c`];
  };

  const applyUser = (userId: string, events: readonly UserEvent[]): Promise<unknown> => {
    const ops: unknown[] = [];
    for (const e of events) for (const w of writesFor(e, config)) ops.push(toLua(w));
    return applyScript.run(redis, keys(userId), [JSON.stringify(ops), Math.ceil(config.idleTtl)]);
  };

  return {
    config,
    async apply(events) {
      // Events of one user keep their order inside one script call; users are independent.
      const byUser = new Map<string, UserEvent[]>();
      for (const e of events) {
        const list = byUser.get(e.userId);
        if (list) list.push(e);
        else byUser.set(e.userId, [e]);
      }
      await Promise.all([...byUser].map(([userId, list]) => applyUser(userId, list)));
    },
    async read(userId, now): Promise<UserFeatures> {
      const raw = (await readScript.run(redis, keys(userId), [])) as [string[], string[], string[], string[]];
      return computeFeatures(userId, toSnapshot(raw), config, now);
    },
    async clear() {
      await deleteByPrefix(redis, keyPrefix);
    },
    async close() {},
  };
}

function toLua(w: Write): unknown {
  if (w.op !== "window") return w;
  return { op: "window", m: encodeEntry(w.entry), t: w.entry.t, maxLen: w.maxLen, span: w.span };
}

function toSnapshot([members, user, session, windowed]: [string[], string[], string[], string[]]): FeatureSnapshot {
  return { window: members.map(decodeEntry), user: pairs(user), session: pairs(session), windowed: pairs(windowed) };
}

function pairs(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1] as string);
  return m;
}

/** Deletes every key of this store (SCAN on each master; keys are deleted on the node that holds them). */
export async function deleteByPrefix(redis: Redis | Cluster, keyPrefix: string): Promise<number> {
  let deleted = 0;
  for (const node of masters(redis)) {
    let cursor = "0";
    do {
      const [next, found] = await node.scan(cursor, "MATCH", `{${keyPrefix}:*`, "COUNT", 1000);
      cursor = next;
      if (found.length > 0) {
        const p = node.pipeline();
        for (const k of found) p.unlink(k);
        await p.exec();
        deleted += found.length;
      }
    } while (cursor !== "0");
  }
  return deleted;
}
