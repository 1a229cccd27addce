import { arrivalOf } from "../decisions/reward-reducer.js";
import type { DecisionStream, DeliveredEntry } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import type { StreamPositions } from "../stream/stream-positions.js";

/**
 * How a duty reads the decision stream (the learner and the rollout controller): every partition by id from
 * the positions of its own fenced checkpoint (`range`, XRANGE), merged into one sequence.
 *
 * **Reading by position, not through the consumer group.** A group's `read` (XREADGROUP `>`) hands an entry to
 * whichever consumer asks first and never again to another one but by `claim`. A holder frozen mid-step (GC,
 * SIGSTOP) that wakes after its lease moved on still asks, and what it is handed stays pending under its name:
 * the new holder, which claimed the pending list once at start, never saw it. Read by id from the checkpoint's
 * positions, nothing can be taken from anyone: a stale holder reads a copy and its checkpoint is refused by the
 * fence, and a new holder resumes exactly after the last accepted checkpoint. The duty's group stays as the
 * stream's retention marker only: after an accepted checkpoint the duty moves it to its positions (`commit`,
 * XGROUP SETID), and stream-trim drops only what every group's marker passed. A stale holder cannot move a
 * marker past an accepted checkpoint (it commits only positions its own accepted checkpoints hold), and moving
 * one back only keeps entries longer.
 *
 * **Merge order.** Each partition in id order (what `StreamPositions` needs), and across partitions always the
 * head with the smallest `mergeTime` (ties: the lower partition). A head is only taken once every partition has
 * a head or was just read empty (caught up), so with the entries present the order does not depend on batch
 * sizes, on when a step ran, or on a failover in between: a learner restored from a checkpoint continues
 * exactly the sequence an uninterrupted one applies, which makes their posteriors equal bit for bit (float
 * updates do not commute).
 *
 * **Settling (live).** Entries reach the stream a little after their time (an API node stamps the server time,
 * commits to PostgreSQL, then appends), and partitions are appended by different nodes. A partition read empty
 * says nothing about an entry of an earlier time that its node is still committing: taking the other
 * partitions' heads then would apply that entry after later ones, an order the replay of the whole stream never
 * has (seen at load average 30+: equal updates and reward sums, different bits). So with `settleMs` set, while
 * some partition is caught up, a head is taken only once its time is `settleMs` behind the step's `now` (the
 * low watermark every partition passed: an entry appended within `settleMs` of its time is there by then);
 * when every partition has a head, nothing waits. The latency cost: on a quiet stream an entry is applied up to
 * `settleMs` later (a policy learns a window's outcome after window + slack + settle); under steady traffic on
 * every partition, none. An entry appended later than `settleMs` after its time (a node stalled longer, a
 * worker clock ahead of the API nodes' by more) is merged when it arrives: only the order of float sums differs
 * then, never what is learned. Without `settleMs` (the rollout duty, which counts and does not sum floats) heads
 * are taken as they come.
 */
export class PartitionMerge {
  private readonly buffers: DeliveredEntry[][];
  private readonly caughtUp: boolean[];
  /** The id of the last entry read from each partition (buffered or applied): the next `range` starts after it. */
  private readonly readTo: (string | undefined)[];
  /** The position last committed to the group per partition (its retention marker). */
  private readonly committed: (string | undefined)[];
  /** The step's time: partitions read empty in this step hold nothing appended before it. */
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly stream: DecisionStream,
    private readonly group: string,
    private readonly consumer: string,
    private readonly positions: StreamPositions,
    private readonly batch: number,
    /** How long after its time an entry is surely in the stream (see "Settling"); undefined: no waiting. */
    private readonly settleMs?: number,
  ) {
    const n = stream.partitions;
    this.buffers = Array.from({ length: n }, () => []);
    this.caughtUp = Array.from({ length: n }, () => false);
    this.readTo = Array.from({ length: n }, (_, p) => positions.positionOf(p));
    this.committed = [...this.readTo];
  }

  /**
   * Empties the group's pending list: entries a holder of an earlier version read through the group
   * (XREADGROUP) would hold the retention marker back for ever. Nothing is lost: entries are read by position.
   * One claim per partition sized to its pending list (a claim restarts at the list's head, so claims in a
   * loop would return the same entries).
   */
  async releasePending(): Promise<void> {
    for (let p = 0; p < this.stream.partitions; p++) {
      const pending = await this.stream.pendingCount(this.group, p);
      if (pending === 0) continue;
      const claimed = await this.stream.claim(this.group, this.consumer, p, { minIdleMs: 0, count: pending });
      await this.stream.ack(
        this.group,
        p,
        claimed.map((d) => d.id),
      );
    }
  }

  /** Starts a step at `now`: partitions read empty before are read again. */
  beginStep(now = Number.POSITIVE_INFINITY): void {
    this.caughtUp.fill(false);
    this.readAt = now;
  }

  /**
   * The next entry in merge order (its position advanced), or undefined when every partition is caught up or
   * the next one has not settled yet (then `idle` is false).
   */
  async next(): Promise<DeliveredEntry | undefined> {
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let p = 0; p < this.buffers.length; p++) {
      while (this.buffers[p]!.length === 0 && !this.caughtUp[p]) await this.fill(p);
      const head = this.buffers[p]![0];
      if (!head) continue;
      const key = mergeTime(head);
      if (best < 0 || key < bestKey) {
        best = p;
        bestKey = key;
      }
    }
    if (best < 0 || !this.settled(bestKey)) return undefined;
    const entry = this.buffers[best]!.shift()!;
    this.positions.advance(entry);
    return entry;
  }

  /** Whether a head of time `t` may be taken: every partition has a head, or `t` settled (see "Settling"). */
  private settled(t: number): boolean {
    if (this.settleMs === undefined || t <= this.readAt - this.settleMs) return true;
    return this.buffers.every((b) => b.length > 0);
  }

  /** True when the last `next` found every partition caught up and nothing buffered. */
  get idle(): boolean {
    return this.caughtUp.every(Boolean) && this.buffers.every((b) => b.length === 0);
  }

  /**
   * Moves the group's retention marker to the positions (call only after the checkpoint holding them was
   * accepted); resolves on how many partitions it moved.
   */
  async commitPositions(): Promise<number> {
    let moved = 0;
    for (let p = 0; p < this.committed.length; p++) {
      const at = this.positions.positionOf(p);
      if (at === undefined || at === this.committed[p]) continue;
      await this.stream.commit(this.group, p, at);
      this.committed[p] = at;
      moved++;
    }
    return moved;
  }

  private async fill(p: number): Promise<void> {
    const got = await this.stream.range(p, this.readTo[p], this.batch);
    if (got.length === 0) {
      this.caughtUp[p] = true;
      return;
    }
    this.readTo[p] = got[got.length - 1]!.id;
    for (const e of got) if (this.positions.isNew(e)) this.buffers[p]!.push(e);
  }
}

/**
 * An entry's time in the merge, one rule for every duty: the server time the entry records (a decision's
 * activation, else serving; an activation; a reward's arrival; an exposure's serving). An event records only
 * its client's clock: its time is that, capped at when it was appended (its stream id's milliseconds, a
 * server's clock), since nothing happened after it reached the stream. The cap matters to the learner: an
 * event dated ahead (clients may be up to `events.maxFuture` fast) would otherwise hold back every later entry
 * of its partition, applied then after the watermark passed their windows. The rollout duty needs events in
 * their own time order (a purchase after the exposure of its session), which the client's time gives. (Two
 * rules before: the learner put events first, the rollout duty used the client's time uncapped.)
 */
export function mergeTime(d: Pick<DeliveredEntry, "id" | "entry">): number {
  const entry: StreamEntry = d.entry;
  if (entry.kind === "event") return Math.min(entry.event.timestamp, idMillis(d.id));
  return serverTime(entry);
}

/** The server time an entry records (the learner's watermark follows it); events carry only their client's. */
export function serverTime(entry: Exclude<StreamEntry, { kind: "event" }>): number {
  switch (entry.kind) {
    case "decision":
      return entry.decision.activatedAt ?? entry.decision.timestamp;
    case "activate":
      return entry.at;
    case "reward":
      return arrivalOf(entry.reward);
    case "exposure":
      return entry.exposure.at;
  }
}

function idMillis(id: string): number {
  const dash = id.indexOf("-");
  return Number(dash < 0 ? id : id.slice(0, dash));
}
