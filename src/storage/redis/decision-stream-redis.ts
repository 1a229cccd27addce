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
  return new RedisDecisionStream(client, options.partitions, options.keyPrefix);
}

class RedisDecisionStream implements DecisionStream {
  private blocking: Redis | Cluster | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    readonly partitions: number,
    private readonly keyPrefix: string,
  ) {}

  /**
   * Appends with one pipeline per partition (a Cluster pipeline must stay in one slot), partitions in
   * parallel. A failure rejects the whole call though some entries may be in: a retry appends them again, so
   * consumers deduplicate by decision, reward and event id (delivery is at least once anyway).
   */
  async append(entries: readonly StreamEntry[]): Promise<AppendedEntry[]> {
    const byPartition = new Map<number, number[]>();
    entries.forEach((e, i) => {
      const p = partitionOf(partitionKey(e), this.partitions);
      const list = byPartition.get(p);
      if (list) list.push(i);
      else byPartition.set(p, [i]);
    });
    const out: AppendedEntry[] = new Array(entries.length);
    await Promise.all(
      [...byPartition].map(async ([p, indices]) => {
        const pipe = this.client.pipeline();
        for (const i of indices) pipe.xadd(this.key(p), "*", "d", encodeEntry(entries[i] as StreamEntry));
        const results = (await pipe.exec()) ?? [];
        results.forEach(([error, id], j) => {
          if (error) throw error;
          out[indices[j]!] = { partition: p, id: String(id) };
        });
      }),
    );
    return out;
  }

  async ensureGroup(group: string, from: "start" | "end" = "end"): Promise<void> {
    for (let p = 0; p < this.partitions; p++) {
      try {
        await this.client.xgroup("CREATE", this.key(p), group, from === "start" ? "0" : "$", "MKSTREAM");
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith("BUSYGROUP")) throw e;
      }
    }
  }

  async read(group: string, consumer: string, p: number, opts: ReadOptions = {}): Promise<DeliveredEntry[]> {
    const args: (string | number)[] = [
      "XREADGROUP",
      "GROUP",
      group,
      consumer,
      "COUNT",
      opts.count ?? DEFAULT_READ_COUNT,
    ];
    let conn = this.client;
    if (opts.blockMs) {
      args.push("BLOCK", opts.blockMs);
      this.blocking ??= this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
      conn = this.blocking;
    }
    args.push("STREAMS", this.key(p), ">");
    return entriesOf(itemsOfRead(await call(conn, args)), p, 1);
  }

  async ack(group: string, p: number, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return await this.client.xack(this.key(p), group, ...ids);
  }

  async claim(group: string, consumer: string, p: number, opts: ClaimOptions): Promise<DeliveredEntry[]> {
    const want = opts.count ?? DEFAULT_READ_COUNT;
    const claimed: [Buffer, Buffer[] | null][] = [];
    let cursor = "0-0";
    do {
      const args = ["XAUTOCLAIM", this.key(p), group, consumer, opts.minIdleMs, cursor, "COUNT", want - claimed.length];
      const reply = (await call(this.client, args)) as [Buffer, [Buffer, Buffer[] | null][]];
      cursor = reply[0].toString();
      claimed.push(...reply[1]);
    } while (cursor !== "0-0" && claimed.length < want);
    const delivered = entriesOf(claimed, p, 0);
    await fillDeliveryCounts(this.client, this.key(p), group, consumer, delivered);
    return delivered;
  }

  async pendingCount(group: string, p: number): Promise<number> {
    const summary = (await this.client.xpending(this.key(p), group)) as [number, ...unknown[]];
    return Number(summary[0]);
  }

  async commit(group: string, p: number, id: string): Promise<void> {
    await this.client.xgroup("SETID", this.key(p), group, id);
  }

  async range(p: number, after: string | undefined, count: number): Promise<DeliveredEntry[]> {
    const start = after === undefined ? "-" : `(${after}`;
    const reply = (await call(this.client, ["XRANGE", this.key(p), start, "+", "COUNT", count])) as [
      Buffer,
      Buffer[],
    ][];
    return entriesOf(reply, p, 0);
  }

  async trim(p: number): Promise<number> {
    const minId = await lowWaterMark(this.client, this.key(p));
    if (minId === undefined) return 0;
    return Number(await this.client.xtrim(this.key(p), "MINID", minId));
  }

  async length(p: number): Promise<number> {
    return await this.client.xlen(this.key(p));
  }

  async close(): Promise<void> {
    this.blocking?.disconnect();
    this.blocking = undefined;
  }

  private key(p: number): string {
    if (!Number.isInteger(p) || p < 0 || p >= this.partitions)
      throw new RangeError(`partition ${p} is outside 0..${this.partitions - 1}`);
    return `{${this.keyPrefix}:stream:${p}}`;
  }
}

/** A command with Buffer replies (entries are binary); ioredis's typed overloads do not cover these forms. */
function call(c: Redis | Cluster, args: (string | number | Buffer)[]): Promise<Reply> {
  return c.callBuffer(String(args[0]), ...args.slice(1)) as Promise<Reply>;
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
