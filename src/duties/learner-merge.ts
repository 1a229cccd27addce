import type { DecisionStream, DeliveredEntry } from "../stream/decision-stream.js";
import type { StreamPositions } from "../stream/stream-positions.js";
import { entryTime } from "./learner-join.js";

/**
 * Reads a consumer group's partitions as one sequence, in a merge order that is a function of the stream
 * alone: each partition in id order (what `StreamPositions` needs), and across partitions always the head
 * with the smallest (server time, partition), where entries the learner ignores (events, exposures) go first.
 * A head is only taken once every partition has a head or was just read empty (caught up), so with the
 * entries present the order does not depend on batch sizes, on when a step ran, or on a failover in between:
 * a learner restored from a checkpoint continues exactly the sequence an uninterrupted one applies, which
 * makes their posteriors equal bit for bit (float updates do not commute). Live, an entry appended to a
 * partition after it was read empty is merged when it arrives (later than its time would put it); only the
 * order of float sums differs then, never what is learned.
 */
export class PartitionMerge {
  private readonly buffers: DeliveredEntry[][];
  private readonly caughtUp: boolean[];
  /** Ids delivered to this consumer and applied or skipped, not yet acked, per partition. */
  private readonly done: string[][];

  constructor(
    private readonly stream: DecisionStream,
    private readonly group: string,
    private readonly consumer: string,
    private readonly positions: StreamPositions,
    private readonly batch: number,
  ) {
    const n = stream.partitions;
    this.buffers = Array.from({ length: n }, () => []);
    this.caughtUp = Array.from({ length: n }, () => false);
    this.done = Array.from({ length: n }, () => []);
  }

  /**
   * Takes over the group's pending entries (the previous holder's, idle or not: the lease says it is gone).
   * One claim per partition sized to its pending list, not claims of `batch` in a loop: a claim starts at the
   * head of the pending list (XAUTOCLAIM from 0-0) and, with `minIdleMs: 0`, an entry just claimed is
   * claimable again, so a second claim returned the first one's entries: with `batch` or more pending in a
   * partition the loop never ended (and buffered the same entries again and again).
   */
  async claimPending(): Promise<void> {
    for (let p = 0; p < this.stream.partitions; p++) {
      const pending = await this.stream.pendingCount(this.group, p);
      if (pending === 0) continue;
      this.take(p, await this.stream.claim(this.group, this.consumer, p, { minIdleMs: 0, count: pending }));
    }
  }

  /** Starts a step: partitions read empty before are read again. */
  beginStep(): void {
    this.caughtUp.fill(false);
  }

  /** The next entry in merge order, or undefined when every partition is caught up for this step. */
  async next(): Promise<DeliveredEntry | undefined> {
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let p = 0; p < this.buffers.length; p++) {
      while (this.buffers[p]!.length === 0 && !this.caughtUp[p]) await this.fill(p);
      const head = this.buffers[p]![0];
      if (!head) continue;
      const key = entryTime(head.entry) ?? Number.NEGATIVE_INFINITY;
      if (best < 0 || key < bestKey) {
        best = p;
        bestKey = key;
      }
    }
    if (best < 0) return undefined;
    const entry = this.buffers[best]!.shift()!;
    this.positions.advance(entry);
    this.done[best]!.push(entry.id);
    return entry;
  }

  /** True when the last `next` found every partition caught up and nothing buffered. */
  get idle(): boolean {
    return this.caughtUp.every(Boolean) && this.buffers.every((b) => b.length === 0);
  }

  /** Acks what was applied (call after the checkpoint holding it is durable). */
  async ackDone(): Promise<number> {
    let acked = 0;
    for (let p = 0; p < this.done.length; p++) {
      const ids = this.done[p]!.splice(0);
      if (ids.length > 0) acked += await this.stream.ack(this.group, p, ids);
    }
    return acked;
  }

  private async fill(p: number): Promise<void> {
    const got = await this.stream.read(this.group, this.consumer, p, { count: this.batch });
    if (got.length === 0) this.caughtUp[p] = true;
    this.take(p, got);
  }

  /** Buffers what is new to the state; what is at or before the position was applied already: ack it. */
  private take(p: number, got: readonly DeliveredEntry[]): void {
    for (const e of got) {
      if (this.positions.isNew(e)) this.buffers[p]!.push(e);
      else this.done[p]!.push(e.id);
    }
  }
}
