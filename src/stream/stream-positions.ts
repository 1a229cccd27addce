import { compareIds, type DeliveredEntry } from "./decision-stream.js";

/**
 * A consumer's reading position per partition: the id of the last entry it applied to its state. The learner
 * saves these with its posteriors in one checkpoint (the Decision Service pattern: a model is checkpointed with
 * its reading position), and after a restart or a failover restores both together; an entry redelivered by
 * `claim` or read again by `range` whose id is not after the position is already in the state and is skipped,
 * so replay never learns twice. This holds because a consumer applies a partition's entries in id order (one
 * holder per partition under a lease) and acks only after the checkpoint holding them is durable.
 */
export type Positions = Record<number, string>;

export class StreamPositions {
  private readonly last = new Map<number, string>();

  constructor(saved: Positions = {}) {
    for (const [p, id] of Object.entries(saved)) this.last.set(Number(p), id);
  }

  /** True when the entry is after the position (new to the state); false for a replayed one. */
  isNew(delivered: Pick<DeliveredEntry, "partition" | "id">): boolean {
    const at = this.last.get(delivered.partition);
    return at === undefined || compareIds(delivered.id, at) > 0;
  }

  /** Records that the entry is now in the state. Positions only move forward. */
  advance(delivered: Pick<DeliveredEntry, "partition" | "id">): void {
    if (this.isNew(delivered)) this.last.set(delivered.partition, delivered.id);
  }

  /** The position on a partition (undefined: nothing applied), e.g. for `range(p, positionOf(p), n)`. */
  positionOf(partition: number): string | undefined {
    return this.last.get(partition);
  }

  /** Plain data to store beside the state it describes. */
  toJSON(): Positions {
    return Object.fromEntries(this.last);
  }
}
