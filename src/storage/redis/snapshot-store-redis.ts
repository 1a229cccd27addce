import { Cluster, type Redis } from "ioredis";
import {
  DEFAULT_KEEP_FULL,
  plan,
  type Snapshot,
  SnapshotFencedOut,
  type SnapshotKind,
  type SnapshotRef,
  type SnapshotStore,
  SnapshotVersionConflict,
} from "../../stream/snapshot-store.js";
import { LuaScript } from "./redis-connection.js";
import { RANGE_BYTES, stagingKey, writeStaged } from "./redis-ranges.js";

/**
 * Snapshots on Redis. Per name, under one hash tag `{<prefix>:snap:<name>}`: an index (sorted set, score the
 * version, member `<version>:<kind>`) and one string key per version's bytes. Publishing is one script that
 * checks the version rule, writes the bytes and the index entry, and drops versions older than the
 * `keepFull`-th newest full, so a reader never sees an index entry without its bytes being written first.
 *
 * Notification: Redis pub/sub (PUBLISH after the script, on `<prefix>:snap:<name>`), for low latency, plus
 * polling `latest` every `pollMs` (default 1 s), because pub/sub drops messages while a subscriber is
 * disconnected. Polling alone would be correct too; pub/sub makes the usual case fast, and the poll bounds the
 * staleness after a lost message. Each subscribing store holds one extra connection.
 */
export interface RedisSnapshotOptions {
  keyPrefix: string;
  keepFull?: number;
  pollMs?: number;
}

// The version rule is `mayPublish`'s (snapshot-store.ts; the contract suite holds both adapters to it).
// KEYS[2] is the prefix of the version keys: the versions dropped are only known inside the script. They share
// KEYS[1]'s hash tag, so on a Cluster the script still touches one slot.
// KEYS[3] holds the highest fencing token published with (ARGV[5], '' for an unfenced publish): -2 below it.
// KEYS[4], when given, is a version over 1 MiB staged in ranges (redis-ranges.ts: ioredis copies a command's
// arguments into one buffer, ~35 MB for a full at 2,000 arms), renamed into place instead of ARGV[3].
const PUBLISH = new LuaScript(`
local fence = tonumber(ARGV[5])
local highest = tonumber(redis.call('GET', KEYS[3]))
local staged = KEYS[4]
if fence ~= nil and highest ~= nil and fence < highest then
  if staged then redis.call('DEL', staged) end
  return -2
end
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local latest = nil
if #top > 0 then latest = tonumber(top[2]) end
local version = tonumber(ARGV[1])
local kind = ARGV[2]
local refused = false
if kind == 'full' then
  refused = latest ~= nil and version <= latest
else refused = latest == nil or version ~= latest + 1 end
if refused then
  if staged then redis.call('DEL', staged) end
  return -1
end
if staged and redis.call('EXISTS', staged) == 0 then return redis.error_reply('staged version expired before its publish') end
if fence ~= nil then redis.call('SET', KEYS[3], fence) end
if staged then
  redis.call('RENAME', staged, KEYS[2] .. version)
  redis.call('PERSIST', KEYS[2] .. version)
else redis.call('SET', KEYS[2] .. version, ARGV[3]) end
redis.call('ZADD', KEYS[1], version, version .. ':' .. kind)
if kind ~= 'full' then return 0 end
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local fulls = 0
local dropped = 0
for _, m in ipairs(members) do
  if fulls >= tonumber(ARGV[4]) then
    local v = string.match(m, '^(%d+):')
    redis.call('DEL', KEYS[2] .. v)
    redis.call('ZREM', KEYS[1], m)
    dropped = dropped + 1
  elseif string.sub(m, -5) == ':full' then
    fulls = fulls + 1
  end
end
return dropped`);

export function createRedisSnapshotStore(client: Redis | Cluster, options: RedisSnapshotOptions): SnapshotStore {
  const keepFull = options.keepFull ?? DEFAULT_KEEP_FULL;
  const tag = (name: string): string => `{${options.keyPrefix}:snap:${name}}`;
  const versions = async (name: string): Promise<SnapshotRef[]> =>
    (await client.zrange(`${tag(name)}:index`, "0", "-1")).map(parseRef);
  const latest = async (name: string): Promise<SnapshotRef | undefined> => {
    const [top] = await client.zrange(`${tag(name)}:index`, "-1", "-1");
    return top === undefined ? undefined : parseRef(top);
  };
  const notifier = new VersionNotifier(client, `${options.keyPrefix}:snap:`, latest, options.pollMs ?? 1000);

  return {
    async publish(name, version, bytes, kind, fence) {
      if (!Number.isSafeInteger(version) || version < 1)
        throw new SnapshotVersionConflict(name, version, kind, (await latest(name))?.version);
      const keys = [`${tag(name)}:index`, `${tag(name)}:v:`, `${tag(name)}:fence`];
      let blob = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as string; // binary-safe
      if (bytes.byteLength > RANGE_BYTES) {
        const staging = stagingKey(tag(name));
        await writeStaged(client, staging, bytes);
        keys.push(staging);
        blob = "";
      }
      const args = [version, kind, blob, keepFull, fence ?? ""];
      const result = Number(await PUBLISH.run(client, keys, args));
      if (result === -2) throw new SnapshotFencedOut(name, fence!, Number(await client.get(`${tag(name)}:fence`)));
      if (result < 0) throw new SnapshotVersionConflict(name, version, kind, (await latest(name))?.version);
      await notifier.announce(name, version);
    },
    latest,
    versions,
    async since(name, have, options) {
      const prefix = options?.fullPrefix;
      // Retention may drop a planned version between reading the index and its bytes: plan again then.
      for (let attempt = 0; attempt < 3; attempt++) {
        const wanted = plan(await versions(name), have);
        if (wanted.length === 0) return [];
        const pipe = client.pipeline();
        for (const r of wanted) {
          const key = `${tag(name)}:v:${r.version}`;
          // A prefix: GETRANGE (an empty string for a missing key; a stored version is never empty) and STRLEN.
          if (prefix !== undefined && r.kind === "full") pipe.getrangeBuffer(key, 0, prefix - 1).strlen(key);
          else pipe.getBuffer(key);
        }
        const replies = ((await pipe.exec()) ?? []).map(([error, value]) => (error ? null : value));
        const out: Snapshot[] = [];
        for (const r of wanted) {
          const blob = replies.shift() as Buffer | null;
          const size = prefix !== undefined && r.kind === "full" ? (replies.shift() as number | null) : undefined;
          if (blob === null || blob.byteLength === 0 || size === 0 || size === null) break;
          out.push(
            size === undefined ? { ...r, bytes: new Uint8Array(blob) } : { ...r, bytes: new Uint8Array(blob), size },
          );
        }
        if (out.length === wanted.length) return out;
      }
      throw new Error(`snapshot ${name}: versions kept being dropped while reading them`);
    },
    async range(name, version, start, end) {
      if (end <= start) return new Uint8Array(0);
      const blob = await client.getrangeBuffer(`${tag(name)}:v:${version}`, start, end - 1);
      // Empty: the key is gone (or start is past its end, which a reader that knows the size does not ask).
      return blob.byteLength === 0 ? undefined : new Uint8Array(blob);
    },
    subscribe: (name, onVersion) => notifier.subscribe(name, onVersion),
    close: () => notifier.close(),
  };
}

/** Pub/sub for speed, polling for the messages pub/sub dropped (see the header). */
class VersionNotifier {
  private subscriber: Redis | Cluster | undefined;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channelPrefix: string,
    private readonly latest: (name: string) => Promise<SnapshotRef | undefined>,
    private readonly pollMs: number,
  ) {}

  async announce(name: string, version: number): Promise<void> {
    await this.client.publish(this.channelPrefix + name, String(version));
  }

  async subscribe(name: string, onVersion: (version: number) => void): Promise<() => void> {
    await this.listen(name);
    const handler = (message: string): void => onVersion(Number(message));
    this.handlers.get(name)!.add(handler);
    // From 0, so the first poll reports the newest version even if it was published while subscribing.
    let seen = 0;
    const timer = setInterval(() => {
      this.latest(name)
        .then((l) => {
          if (!l || l.version <= seen) return;
          seen = l.version;
          onVersion(seen);
        })
        .catch(() => {}); // Redis away: the next poll tries again; serving keeps its cached snapshot
    }, this.pollMs);
    timer.unref();
    this.timers.add(timer);
    return () => {
      clearInterval(timer);
      this.timers.delete(timer);
      this.handlers.get(name)?.delete(handler);
    };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.handlers.clear();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  /** One subscriber connection per store, subscribed once per name. */
  private async listen(name: string): Promise<void> {
    if (this.handlers.has(name)) return;
    this.handlers.set(name, new Set());
    if (!this.subscriber) {
      const c = this.client;
      this.subscriber = c instanceof Cluster ? c.duplicate() : c.duplicate();
      this.subscriber.on("message", (channel: string, message: string) => {
        const set = this.handlers.get(channel.slice(this.channelPrefix.length));
        if (channel.startsWith(this.channelPrefix)) for (const h of set ?? []) h(message);
      });
    }
    await this.subscriber.subscribe(this.channelPrefix + name);
  }
}

function parseRef(member: string): SnapshotRef {
  const colon = member.indexOf(":");
  return { version: Number(member.slice(0, colon)), kind: member.slice(colon + 1) as SnapshotKind };
}
