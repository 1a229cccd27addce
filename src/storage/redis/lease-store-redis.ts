import type { Cluster, Redis } from "ioredis";
import type { LeaseStore } from "../../stream/lease-store.js";
import { LuaScript } from "./redis-connection.js";

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
 * under that tag too (`…:data:<key>`), which is what lets the check and the write be one atomic step.
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
      // Lua strings are binary-safe and evalsha sends a Buffer as it is; LuaScript's parameter type only
      // names strings and numbers.
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength) as unknown as string;
      const keys = [leaseKey(name), `${leaseKey(name)}:data:${key}`];
      return (await FENCED_WRITE.run(client, keys, [String(token), bytes])) === 1;
    },
    async fencedRead(name, key) {
      const value = await client.getBuffer(`${leaseKey(name)}:data:${key}`);
      return value === null ? undefined : new Uint8Array(value);
    },
    async close() {},
  };
}
