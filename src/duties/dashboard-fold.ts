import type { FencedMinuteWrites, FencingMinuteStore } from "../app/dashboard-ports.js";
import { type AggregatorLimits, MINUTE_MS, MinuteAggregator } from "../app/minute-aggregates.js";
import type { Clock } from "../core/clock.js";
import { FencedOut } from "../rollout/rollout-store.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import { type Positions, StreamPositions } from "../stream/stream-positions.js";
import { AttributionCheckpoints, restoreAttribution } from "./dashboard-fold-checkpoint.js";
import { FoldFeed, type FoldFeedState } from "./dashboard-fold-feed.js";
import type { Duty, DutyContext, StepOutcome } from "./duty.js";
import { PartitionMerge } from "./partition-merge.js";

/** The lease, consumer group and checkpoint name of the dashboard's fold (the lead's naming, issue 13). */
export const DASHBOARD_FOLD_DUTY = "dashboard-fold";

export type DashboardFoldContext = Pick<DutyContext, "stream" | "clock" | "workerId">;

export interface DashboardFoldDeps {
  /** The shared minute store every node's dashboard reads (PostgreSQL in scale-out). */
  store: FencingMinuteStore;
  limits: AggregatorLimits;
  aggregation: "earliest" | "sum";
  /** Entries applied per step at most (also read per partition per read): a step returns well within the ttl. */
  batch?: number;
  /** Longest time (ms) applied entries wait for their checkpoint while the stream is not caught up. Default 1 s. */
  checkpointMs?: number;
}

/** What the checkpoint holds beside the minutes: where the fold read to, and the feed's dedupe state. */
interface ConsumerState {
  positions: Positions;
  feed: FoldFeedState;
  /** When the fold last forgot what can no longer be attributed (a restore forgets the same). */
  prunedAt?: number;
}

interface Held {
  fold: MinuteAggregator;
  feed: FoldFeed;
  positions: StreamPositions;
  merge: PartitionMerge;
  writes: FencedMinuteWrites;
  attribution: AttributionCheckpoints;
  prunedAt: number | undefined;
  /** Entries applied since the last accepted checkpoint. */
  unsaved: number;
  lastCheckpoint: number;
  /** The retention's cut (the oldest minute kept), moved once a minute. */
  oldestMinute: number;
  lastPruneMinute: number;
}

export function createDashboardFoldDuty(ctx: DashboardFoldContext, deps: DashboardFoldDeps): Duty {
  return new DashboardFoldDuty(ctx.stream, ctx.clock, ctx.workerId, deps);
}

/**
 * The dashboard's per-minute aggregates as a worker duty (issue 13): in scale-out one fold counts the whole
 * cluster's traffic, instead of each process its own. The lease holder reads the decision stream by position
 * from its fenced checkpoint (partition-merge.ts, as the learner and the rollout duty), turns entries into the
 * fold's entries (dashboard-fold-feed.ts: deduped, rewards judged as the stores judge them), folds them with the
 * embedded path's own fold (app/minute-aggregates.ts), and writes the changed minutes, the retention's cut and
 * its reading position in one fenced transaction: a stale holder's write is refused (`FencedOut`) and the duty
 * stops; a new holder restores the stored minutes and the position and continues, so nothing counts twice.
 * Every node's dashboard reads the stored minutes (app/shared-minutes.ts).
 *
 * The checkpoint also holds the attribution state (dashboard-fold-checkpoint.ts: which decision a later reward
 * belongs to, which session a later purchase belongs to, as a full and deltas), so a takeover attributes the
 * rewards and purchases of decisions folded before it, as an uninterrupted fold does.
 */
class DashboardFoldDuty implements Duty {
  readonly name = DASHBOARD_FOLD_DUTY;
  private held: Held | undefined;

  constructor(
    private readonly stream: DecisionStream,
    private readonly clock: Clock,
    private readonly workerId: string,
    private readonly deps: DashboardFoldDeps,
  ) {}

  async start(token: number): Promise<void> {
    const { store, limits, aggregation } = this.deps;
    const writes = await store.fenced(DASHBOARD_FOLD_DUTY, token);
    await this.stream.ensureGroup(DASHBOARD_FOLD_DUTY, "start");
    const saved = await store.loadCheckpoint(DASHBOARD_FOLD_DUTY);
    const state: ConsumerState = saved ? JSON.parse(saved) : { positions: {}, feed: { seenPurchases: [] } };
    const now = this.clock.now();
    const fold = new MinuteAggregator(limits, aggregation);
    fold.restore(await store.load(now - limits.retentionMs));
    const feed = new FoldFeed(limits, state.feed);
    restoreAttribution(await store.loadAttribution(DASHBOARD_FOLD_DUTY), fold, feed);
    if (state.prunedAt !== undefined) {
      fold.prune(state.prunedAt); // deltas do not carry what the old holder forgot: forget it again
      feed.forget(state.prunedAt);
    }
    fold.recordChanges();
    const positions = new StreamPositions(state.positions);
    const merge = new PartitionMerge(this.stream, DASHBOARD_FOLD_DUTY, this.workerId, positions, this.batchSize());
    await merge.releasePending();
    this.held = {
      fold,
      feed,
      positions,
      merge,
      writes,
      attribution: new AttributionCheckpoints(),
      prunedAt: state.prunedAt,
      unsaved: 0,
      lastCheckpoint: now,
      oldestMinute: Math.floor((now - limits.retentionMs) / MINUTE_MS) * MINUTE_MS,
      lastPruneMinute: Math.floor(now / MINUTE_MS),
    };
  }

  /** Folds a batch; checkpoints when caught up, after `checkpointMs`, and once a minute (retention). */
  async step(now: number): Promise<StepOutcome | undefined> {
    const held = this.held;
    if (!held) return;
    const applied = await this.applyNew(held, now);
    held.unsaved += applied;
    const minute = Math.floor(now / MINUTE_MS);
    const pruneDue = minute > held.lastPruneMinute;
    const saveDue = held.unsaved > 0 && (held.merge.idle || now - held.lastCheckpoint >= this.checkpointMs());
    if (!pruneDue && !saveDue) return applied === 0 && held.merge.idle ? "idle" : undefined;
    if (pruneDue) {
      held.oldestMinute = held.fold.prune(now);
      held.feed.forget(now);
      held.lastPruneMinute = minute;
      held.prunedAt = now;
    }
    try {
      await this.checkpoint(held);
    } catch (error) {
      if (error instanceof FencedOut) await this.stop();
      throw error;
    }
    held.unsaved = 0;
    held.lastCheckpoint = now;
    await held.merge.commitPositions();
  }

  async stop(): Promise<void> {
    this.held = undefined;
  }

  private batchSize(): number {
    return this.deps.batch ?? 1000;
  }

  private checkpointMs(): number {
    return this.deps.checkpointMs ?? 1000;
  }

  /** Applies up to a batch of entries after the positions, in the shared merge order; resolves how many. */
  private async applyNew(held: Held, now: number): Promise<number> {
    held.merge.beginStep();
    let applied = 0;
    while (applied < this.batchSize()) {
      const d = await held.merge.next();
      if (!d) break;
      const entry = held.feed.toAggregate(d.entry, now);
      if (entry) held.fold.apply(entry);
      applied++;
    }
    return applied;
  }

  private async checkpoint(held: Held): Promise<void> {
    const rows = held.fold.takeDirty();
    const state: ConsumerState = {
      positions: held.positions.toJSON(),
      feed: held.feed.toJSON(),
      ...(held.prunedAt === undefined ? {} : { prunedAt: held.prunedAt }),
    };
    const attribution = held.attribution.next(held.fold, held.feed);
    try {
      await held.writes.checkpoint(rows, held.oldestMinute, JSON.stringify(state), attribution);
    } catch (error) {
      held.fold.markDirty(rows); // written with the next checkpoint
      held.attribution.failed(); // and the attribution state whole
      throw error;
    }
    held.attribution.accepted(attribution);
  }
}
