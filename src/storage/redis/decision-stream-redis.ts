import { Cluster, type Redis } from "ioredis";
import {
  type AppendedEntry,
  type ClaimOptions,
  compareIds,
  DEFAULT_READ_COUNT,
  type DecisionStream,
  type DeliveredEntry,
  nextId,
  type ReadOptions,
} from "../../stream/decision-stream.js";
import { decodeEntry, encodeEntry, partitionKey, partitionOf, type StreamEntry } from "../../stream/stream-entry.js";

/**
 * The decision stream on Redis Streams (issue 13): one stream key per partition, hash-tagged on its own
 * (`{<prefix>:stream:3}`) so partitions spread over a Redis Cluster's slots and every command touches one key.
 * Entries are one field `d` holding stream-entry.ts bytes (binary-safe: read with the *Buffer commands).
 *
 * Trimming: `trim(p)` removes (XTRIM MINID, exact) what every consumer group of the partition has acked: the
 * oldest pending id of each group, or the id after its last-delivered one. A partition with no group is never
 * trimmed (nobody has said what it still needs), and nothing is capped by length on append, so an entry is
 * only ever lost by trimming once every group has processed it. Run `trim` from one worker under a lease.
 *
 * Blocking reads (`blockMs`) go through a second connection of their own, so a waiting XREADGROUP never holds
 * up appends and acks on the shared one; blocking reads of one adapter wait for one another.
 */
export interface RedisStreamOptions {
  partitions: number;
  keyPrefix: string;
}

type Reply = unknown;

export function createRedisDecisionStream(client: Redis | Cluster, options: RedisStreamOptions): DecisionStream {
  const key = (p: number): string => {
    if (!Number.isInteger(p) || p < 0 || p >= options.partitions)
      throw new RangeError(`partition ${p} is outside 0..${options.partitions - 1}`);
    return `{${options.keyPrefix}:stream:${p}}`;
  };
  let blocking: Redis | Cluster | undefined;
  const call = (c: Redis | Cluster, args: (string | number | Buffer)[]): Promise<Reply> =>
    c.callBuffer(String(args[0]), ...args.slice(1)) as Promise<Reply>;

  return {
    partitions: options.partitions,
    async append(entries) {
      const byPartition = new Map<number, number[]>();
      entries.forEach((e, i) => {
        const p = partitionOf(partitionKey(e), options.partitions);
        const list = byPartition.get(p);
        if (list) list.push(i);
        else byPartition.set(p, [i]);
      });
      const out: AppendedEntry[] = new Array(entries.length);
      await Promise.all(
        [...byPartition].map(async ([p, indices]) => {
          // One pipeline per partition: a Cluster pipeline must stay within one slot.
          const pipe = client.pipeline();
          for (const i of indices) pipe.xadd(key(p), "*", "d", encodeEntry(entries[i] as StreamEntry));
          const results = (await pipe.exec()) ?? [];
          results.forEach(([error, id], j) => {
            if (error) throw error;
            out[indices[j]!] = { partition: p, id: String(id) };
          });
        }),
      );
      return out;
    },
    async ensureGroup(group, from = "end") {
      for (let p = 0; p < options.partitions; p++) {
        try {
          await client.xgroup("CREATE", key(p), group, from === "start" ? "0" : "$", "MKSTREAM");
        } catch (e) {
          if (!(e instanceof Error) || !e.message.startsWith("BUSYGROUP")) throw e;
        }
      }
    },
    async read(group, consumer, p, opts: ReadOptions = {}) {
      const args: (string | number)[] = [
        "XREADGROUP",
        "GROUP",
        group,
        consumer,
        "COUNT",
        opts.count ?? DEFAULT_READ_COUNT,
      ];
      let conn: Redis | Cluster = client;
      if (opts.blockMs) {
        args.push("BLOCK", opts.blockMs);
        blocking ??= client instanceof Cluster ? client.duplicate() : client.duplicate();
        conn = blocking;
      }
      args.push("STREAMS", key(p), ">");
      return entriesOf(itemsOfRead(await call(conn, args)), p, 1);
    },
    async ack(group, p, ids) {
      if (ids.length === 0) return 0;
      return await client.xack(key(p), group, ...ids);
    },
    async claim(group, consumer, p, opts: ClaimOptions) {
      const want = opts.count ?? DEFAULT_READ_COUNT;
      const claimed: [Buffer, Buffer[] | null][] = [];
      let cursor = "0-0";
      do {
        const reply = (await call(client, [
          "XAUTOCLAIM",
          key(p),
          group,
          consumer,
          opts.minIdleMs,
          cursor,
          "COUNT",
          want - claimed.length,
        ])) as [Buffer, [Buffer, Buffer[] | null][]];
        cursor = reply[0].toString();
        claimed.push(...reply[1]);
      } while (cursor !== "0-0" && claimed.length < want);
      const delivered = entriesOf(claimed, p, 0);
      await fillDeliveryCounts(client, key(p), group, consumer, delivered);
      return delivered;
    },
    async pendingCount(group, p) {
      const summary = (await client.xpending(key(p), group)) as [number, ...unknown[]];
      return Number(summary[0]);
    },
    async range(p, after, count) {
      const start = after === undefined ? "-" : `(${after}`;
      const reply = (await call(client, ["XRANGE", key(p), start, "+", "COUNT", count])) as [Buffer, Buffer[]][];
      return entriesOf(reply, p, 0);
    },
    async trim(p) {
      const minId = await lowWaterMark(client, key(p));
      if (minId === undefined) return 0;
      return Number(await client.xtrim(key(p), "MINID", minId));
    },
    async length(p) {
      return await client.xlen(key(p));
    },
    async close() {
      blocking?.disconnect();
      blocking = undefined;
    },
  };
}

/**
 * XREADGROUP's items for its one stream. Under RESP3 (ioredis 6's default) the reply is a map, which ioredis
 * flattens to `[key, items]`; under RESP2 it is `[[key, items]]`; nil when nothing was ready.
 */
function itemsOfRead(reply: Reply): [Buffer, Buffer[] | null][] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as unknown;
  if (Buffer.isBuffer(first) || typeof first === "string") return (reply[1] ?? []) as [Buffer, Buffer[] | null][];
  return ((first as unknown[])[1] ?? []) as [Buffer, Buffer[] | null][];
}

function entriesOf(items: [Buffer, Buffer[] | null][], partition: number, deliveries: number): DeliveredEntry[] {
  const out: DeliveredEntry[] = [];
  for (const [id, fields] of items) {
    if (!fields) continue; // deleted under a pending id (Redis < 7 reports these as nil)
    const value = fields[fields.findIndex((f, i) => i % 2 === 0 && f.toString() === "d") + 1];
    if (!value) throw new Error(`stream entry ${id.toString()} has no "d" field`);
    out.push({ partition, id: id.toString(), entry: decodeEntry(value), deliveries });
  }
  return out;
}

/** XAUTOCLAIM does not say how often an entry was delivered; XPENDING's extended form does. */
async function fillDeliveryCounts(
  client: Redis | Cluster,
  streamKey: string,
  group: string,
  consumer: string,
  delivered: DeliveredEntry[],
): Promise<void> {
  if (delivered.length === 0) return;
  const first = delivered[0]!.id;
  const last = delivered[delivered.length - 1]!.id;
  const rows = (await client.xpending(streamKey, group, first, last, delivered.length * 2, consumer)) as [
    string,
    string,
    number,
    number,
  ][];
  const counts = new Map(rows.map(([id, , , n]) => [id, Number(n)]));
  for (const d of delivered) d.deliveries = counts.get(d.id) ?? 1;
}

/** The MINID every group allows (see the header), or undefined when there is no group to ask. */
async function lowWaterMark(client: Redis | Cluster, streamKey: string): Promise<string | undefined> {
  const groups = (await client.xinfo("GROUPS", streamKey)) as unknown[][];
  let low: string | undefined;
  for (const flat of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
    const name = String(info.get("name"));
    let needed = nextId(String(info.get("last-delivered-id")));
    if (Number(info.get("pending")) > 0) {
      const summary = (await client.xpending(streamKey, name)) as [number, string, string, unknown];
      needed = summary[1];
    }
    if (low === undefined || compareIds(needed, low) < 0) low = needed;
  }
  return low;
}
