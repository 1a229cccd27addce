import type { StreamEntry } from "./stream-entry.js";

/**
 * The decision stream port (issue 13): API nodes append, workers consume in consumer groups. Adapters:
 * `storage/memory/decision-stream-memory.ts` (one process) and `storage/redis/decision-stream-redis.ts`
 * (Redis Streams: XADD / XREADGROUP / XACK / XAUTOCLAIM, one key per partition). Both pass
 * `decision-stream.contract.ts`.
 *
 * Semantics, the same in both adapters:
 * - Entries are partitioned by `partitionKey(entry)` (stream-entry.ts); within a partition, ids increase in
 *   append order. Ids are Redis stream ids (`<ms>-<seq>`), compared with `compareIds`.
 * - A group's consumers share its entries: `read` delivers entries no consumer of the group has seen yet and
 *   puts them in the group's pending list until `ack`. Delivery is at least once: an entry a consumer read and
 *   never acked is delivered again by `claim` to another consumer once idle for `minIdleMs`.
 * - Trimming never drops an entry some group has not acked or committed past (`trim` removes what every group
 *   acked; see the adapters), so a group created before an append sees every entry of it.
 * - The worker duties read by id (`range`) from their checkpointed positions and `commit` their group to
 *   them after each accepted checkpoint (duties/partition-merge.ts says why); `read`/`claim` remain for
 *   consumers that share a group's entries.
 */
export interface DecisionStream {
  readonly partitions: number;
  /** Appends in order; resolves each entry's partition and id (durable as the adapter is: Redis AOF, or memory). */
  append(entries: readonly StreamEntry[]): Promise<AppendedEntry[]>;
  /** Creates the group on every partition if missing; `from: "start"` reads the retained history too. */
  ensureGroup(group: string, from?: "start" | "end"): Promise<void>;
  /** New entries for this group from one partition (never delivered to the group before), oldest first. */
  read(group: string, consumer: string, partition: number, options?: ReadOptions): Promise<DeliveredEntry[]>;
  /** Removes entries from the group's pending list; resolves how many were pending. */
  ack(group: string, partition: number, ids: readonly string[]): Promise<number>;
  /**
   * Takes over entries of the group's pending list idle for at least `minIdleMs` (their consumer died or
   * stalled), oldest first, and delivers them to `consumer` (XAUTOCLAIM). `deliveries` counts every delivery.
   */
  claim(group: string, consumer: string, partition: number, options: ClaimOptions): Promise<DeliveredEntry[]>;
  /** Entries of the group still pending (delivered, not acked) on a partition. */
  pendingCount(group: string, partition: number): Promise<number>;
  /**
   * Marks the group as having consumed the partition through `id` (XGROUP SETID): for a duty that reads by id
   * from its own checkpointed positions (`range`), its group is only its retention marker, which `trim` honours.
   */
  commit(group: string, partition: number, id: string): Promise<void>;
  /** Entries with id > `after` (all when undefined), oldest first: replay from a checkpointed position. */
  range(partition: number, after: string | undefined, count: number): Promise<DeliveredEntry[]>;
  /** Drops the partition's entries every group has acked; resolves how many were dropped. */
  trim(partition: number): Promise<number>;
  /** Entries retained on a partition. */
  length(partition: number): Promise<number>;
  close(): Promise<void>;
}

export interface AppendedEntry {
  partition: number;
  id: string;
}

export interface DeliveredEntry {
  partition: number;
  id: string;
  entry: StreamEntry;
  /** 1 on first delivery; more when claimed after a consumer died (range: 0, no group). */
  deliveries: number;
}

export interface ReadOptions {
  /** At most this many entries (default 100). */
  count?: number;
  /** Wait up to this long for an entry when none is ready (0 or undefined: answer at once). */
  blockMs?: number;
}

export interface ClaimOptions {
  minIdleMs: number;
  count?: number;
}

export const DEFAULT_READ_COUNT = 100;

/** Orders two stream ids (`<ms>-<seq>`): negative, zero or positive like a comparator. */
export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf("-");
  if (dash < 0) return [BigInt(id), 0n];
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** The smallest id after `id` (XTRIM MINID keeps ids >= its argument). */
export function nextId(id: string): string {
  const [ms, seq] = splitId(id);
  return `${ms}-${seq + 1n}`;
}
