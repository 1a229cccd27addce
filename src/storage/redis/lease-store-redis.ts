import type { Cluster, Redis } from "ioredis";
import type { LeaseStore } from "../../stream/lease-store.js";
import { LuaScript } from "./redis-connection.js";
import { RANGE_BYTES, readInRanges, stagingKey, writeStaged } from "./redis-ranges.js";

/**
 * Leases on Redis: the lease is a hash `{<prefix>:lease:<name>}` (holder, token) with a PX expiry, so it lapses
 * on Redis's clock, not a worker's; the token comes from a counter beside it that never expires, so tokens
 * strictly increase per name across holders. Acquire is SET-NX semantics and the counter's step in one script
 * (no token is spent on a failed acquire).
 *
 * A token is max(last token + 1, Redis's clock in µs), not a plain INCR: PostgreSQL keeps the highest token
 * that wrote (the duties' fences, `rollout_fences`), and it outlives Redis. Were Redis restarted empty (no
 * persistence, a failover to an empty replica), an INCR would start again at 1 and every fenced PostgreSQL
 * write would be refused for good; a clock-based floor keeps new tokens above every token issued before, as
 * long as Redis's clock does not step back by more than the time since the last acquire. A µs timestamp
 * (~1.8e15) is an exact double below 2^53 until the year 2255; written with `%.0f` because Lua 5.1 prints
 * numbers with 14 significant digits. Renew, release and fenced writes are scripts that check holder and token
 * first. Every key of a lease shares its hash tag, so each script touches one Cluster slot; fenced data lives
 * under that tag too (`…:data:<key>`), which is what lets the check and the write be one atomic step. Values
 * over 1 MiB (a learner's full checkpoint) are staged and read in ranges (redis-ranges.ts).
 */
const ACQUIRE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
local token = math.max((tonumber(redis.call('GET', KEYS[2])) or 0) + 1, floor)
token = string.format('%.0f', token)
redis.call('SET', KEYS[2], token)
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token`);

const RENEW = new LuaScript(`
local lease = redis.call('HMGET', KEYS[1], 'holder', 'token')
if lease[1] ~= ARGV[1] or lease[2] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

const RELEASE = new LuaScript(`
local lease = redis.call('HMGET', KEYS[1], 'holder', 'token')
if lease[1] ~= ARGV[1] or lease[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1`);

const FENCED_WRITE = new LuaScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`);

/** A large value's fenced write: the staged value (redis-ranges.ts, KEYS[3]) moved over the data key, or dropped. */
const FENCED_RENAME = new LuaScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  redis.call('DEL', KEYS[3])
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('staged value expired before its fenced write') end
redis.call('RENAME', KEYS[3], KEYS[2])
redis.call('PERSIST', KEYS[2])
return 1`);

export function createRedisLeaseStore(client: Redis | Cluster, keyPrefix: string): LeaseStore {
  const leaseKey = (name: string): string => `{${keyPrefix}:lease:${name}}`;
  return {
    async acquire(name, holder, ttlMs) {
      const token = await ACQUIRE.run(client, [leaseKey(name), `${leaseKey(name)}:token`], [holder, ttlMs]);
      return token === null ? undefined : Number(token);
    },
    async renew(name, holder, token, ttlMs) {
      return (await RENEW.run(client, [leaseKey(name)], [holder, String(token), ttlMs])) === 1;
    },
    async release(name, holder, token) {
      return (await RELEASE.run(client, [leaseKey(name)], [holder, String(token)])) === 1;
    },
    async current(name) {
      const [holder, token] = await client.hmget(leaseKey(name), "holder", "token");
      return holder == null || token == null ? undefined : { holder, token: Number(token) };
    },
    async fencedWrite(name, token, key, value) {
      const keys = [leaseKey(name), `${leaseKey(name)}:data:${key}`];
      if (value.byteLength > RANGE_BYTES) {
        // Staged in ranges, then checked and moved in one script (redis-ranges.ts: why).
        const staging = stagingKey(leaseKey(name));
        await writeStaged(client, staging, value);
        return (await FENCED_RENAME.run(client, [...keys, staging], [String(token)])) === 1;
      }
      // Lua strings are binary-safe and evalsha sends a Buffer as it is; LuaScript's parameter type only
      // names strings and numbers.
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength) as unknown as string;
      return (await FENCED_WRITE.run(client, keys, [String(token), bytes])) === 1;
    },
    fencedRead: (name, key) => readInRanges(client, `${leaseKey(name)}:data:${key}`),
    async close() {},
  };
}
