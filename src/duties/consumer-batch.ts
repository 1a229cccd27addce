import type { DecisionStream, DeliveredEntry } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";

/**
 * Reading and acknowledging a duty's consumer group on every partition. Entries are acked only after the
 * checkpoint holding them is durable (`ackAll` after the write), so entries read in a step whose checkpoint
 * failed stay here and are acked with the next checkpoint that succeeds.
 */
export class ConsumerBatch {
  private readonly unacked = new Map<number, string[]>();

  constructor(
    private readonly stream: DecisionStream,
    private readonly group: string,
    private readonly consumer: string,
  ) {}

  /**
   * Claims every entry pending in the group, whoever read it (`minIdleMs: 0`: the lease says its holder is
   * gone). One claim per partition sized to its pending list: the port's claim has no cursor to resume from,
   * and a claimed entry is idle 0 again, so a second claim would return the first one's entries.
   */
  async claimPending(): Promise<DeliveredEntry[]> {
    const byPartition: DeliveredEntry[][] = [];
    for (let p = 0; p < this.stream.partitions; p++) {
      const pending = await this.stream.pendingCount(this.group, p);
      byPartition.push(
        pending === 0 ? [] : await this.stream.claim(this.group, this.consumer, p, { minIdleMs: 0, count: pending }),
      );
    }
    return this.track(byPartition);
  }

  /** Up to `count` new entries from each partition (see `mergeByTime` for their order). */
  async read(count: number): Promise<DeliveredEntry[]> {
    const byPartition: DeliveredEntry[][] = [];
    for (let p = 0; p < this.stream.partitions; p++)
      byPartition.push(await this.stream.read(this.group, this.consumer, p, { count }));
    return this.track(byPartition);
  }

  async ackAll(): Promise<void> {
    for (const [p, ids] of this.unacked) if (ids.length > 0) await this.stream.ack(this.group, p, ids);
    this.unacked.clear();
  }

  private track(byPartition: DeliveredEntry[][]): DeliveredEntry[] {
    for (const entries of byPartition) {
      for (const d of entries) {
        const ids = this.unacked.get(d.partition) ?? [];
        ids.push(d.id);
        this.unacked.set(d.partition, ids);
      }
    }
    return mergeByTime(byPartition);
  }
}

/**
 * One sequence from per-partition runs: each partition's entries stay in id order (what stream positions
 * need), and across partitions the earliest entry time goes first, so a purchase (partitioned by its user)
 * follows the exposure of its session (partitioned by the decision) as it did when served. Stream ids alone
 * cannot order partitions: entries appended in the same millisecond to different partitions tie on time.
 */
export function mergeByTime(runs: DeliveredEntry[][]): DeliveredEntry[] {
  const heads = runs.map(() => 0);
  const out: DeliveredEntry[] = [];
  const total = runs.reduce((n, r) => n + r.length, 0);
  while (out.length < total) {
    let best = -1;
    let bestTime = Number.POSITIVE_INFINITY;
    runs.forEach((run, p) => {
      const d = run[heads[p] as number];
      if (d && (best < 0 || entryTime(d.entry) < bestTime)) [best, bestTime] = [p, entryTime(d.entry)];
    });
    out.push(runs[best]?.[heads[best] as number] as DeliveredEntry);
    heads[best] = (heads[best] as number) + 1;
  }
  return out;
}

/** When what the entry records happened (server time where the entry has it). */
export function entryTime(entry: StreamEntry): number {
  switch (entry.kind) {
    case "decision":
      return entry.decision.timestamp;
    case "activate":
      return entry.at;
    case "reward":
      return entry.reward.receivedAt ?? entry.reward.timestamp;
    case "event":
      return entry.event.timestamp;
    case "exposure":
      return entry.exposure.at;
  }
}
