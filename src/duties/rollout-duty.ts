import type { Clock } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import type { TrackerLimits } from "../rollout/arm-tracker.js";
import { FencedOut, type FencingRolloutStore } from "../rollout/rollout-store.js";
import { RolloutTicker, type TickResult } from "../rollout/rollout-ticker.js";
import type { OpeGate, Rollout } from "../rollout/rollout-types.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import { type Positions, StreamPositions } from "../stream/stream-positions.js";
import type { Duty, DutyContext, StepOutcome } from "./duty.js";
import { PartitionMerge } from "./partition-merge.js";

/** The lease, consumer group and checkpoint name of the rollout controller (the lead's naming, issue 13). */
export const ROLLOUT_DUTY = "rollout-controller";

export type RolloutDutyContext = Pick<DutyContext, "stream" | "clock" | "workerId">;

export interface RolloutDutyDeps {
  /** The rollout store API nodes read their cached routing state from (app/rollout-follower.ts). */
  store: FencingRolloutStore;
  opeGate?: OpeGate;
  /** Called once when a rollout completes (the engine makes the candidate the default policy). */
  onPromote?: (rollout: Rollout) => Promise<void>;
  limits?: Partial<TrackerLimits>;
  /**
   * Called after each tick whose checkpoint the fence accepted, with its decisions (the worker records the
   * holds on the audit timeline, as the embedded engine's tick does) and the counters behind them.
   */
  onTick?: (results: TickResult[], now: number, stats: (rolloutId: string) => unknown) => Promise<void>;
  /** Entries applied per step at most (also read per partition per read): a step returns well within the ttl. */
  batch?: number;
}

/** What the duty checkpoints beside the counters: where it read to, and the counted events' ids. */
interface ConsumerState {
  positions: Positions;
  /** Click and purchase event ids counted recently, with when (this worker's clock) they were counted. */
  seenEvents: Array<[string, number]>;
}

/** Events whose retry would count twice (other events only keep a session alive, which is idempotent). */
const COUNTED_EVENTS = new Set(["click", "purchase"]);

interface Held {
  ticker: RolloutTicker;
  positions: StreamPositions;
  seenEvents: Map<string, number>;
  merge: PartitionMerge;
  writes: Awaited<ReturnType<FencingRolloutStore["fenced"]>>;
}

export function createRolloutDuty(ctx: RolloutDutyContext, deps: RolloutDutyDeps): Duty {
  return new RolloutDuty(ctx.stream, ctx.clock, ctx.workerId, deps);
}

/**
 * The rollout controller as a worker duty (issue 13): only the lease holder counts and moves stages. It
 * consumes exposures (which arm served a decision) and events (clicks, purchases) from the decision stream,
 * counts them with the embedded controller's own core (rollout/rollout-ticker.ts, so the same traffic gives
 * the same counters and decisions), ticks `decideRollout()`, and writes stage changes, audit entries, counters
 * and its reading position through the store's fence: a stale holder's write is refused (`FencedOut`) and the
 * duty stops. Delivery is at least once, so it dedupes: a redelivered entry by its stream position, a retried
 * append (same decision or event, new entry) by the decision id the tracker counted and the ids of the clicks
 * and purchases it counted. Rewards are not counted: the trackers count the events, as in one process.
 */
class RolloutDuty implements Duty {
  readonly name = ROLLOUT_DUTY;
  private held: Held | undefined;

  constructor(
    private readonly stream: DecisionStream,
    private readonly clock: Clock,
    private readonly workerId: string,
    private readonly deps: RolloutDutyDeps,
  ) {}

  async start(token: number): Promise<void> {
    const { store } = this.deps;
    const writes = await store.fenced(ROLLOUT_DUTY, token);
    await this.stream.ensureGroup(ROLLOUT_DUTY, "start");
    const saved = await store.loadCheckpoint(ROLLOUT_DUTY);
    const state: ConsumerState = saved ? JSON.parse(saved) : { positions: {}, seenEvents: [] };
    const ticker = await RolloutTicker.open({
      reads: store,
      writes,
      clock: this.clock,
      deferStats: true,
      ...(this.deps.opeGate ? { opeGate: this.deps.opeGate } : {}),
      ...(this.deps.onPromote ? { onPromote: this.deps.onPromote } : {}),
      ...(this.deps.limits ? { limits: this.deps.limits } : {}),
    });
    const positions = new StreamPositions(state.positions);
    const merge = new PartitionMerge(this.stream, ROLLOUT_DUTY, this.workerId, positions, this.batchSize());
    await merge.releasePending();
    this.held = { ticker, writes, merge, positions, seenEvents: new Map(state.seenEvents) };
  }

  async step(now: number): Promise<StepOutcome | undefined> {
    const held = this.held;
    if (!held) return;
    try {
      await held.ticker.sync(await this.deps.store.list());
      const applied = await this.applyNew(held, now);
      this.forgetSeen(held, now);
      const results = await held.ticker.tick(now);
      await this.checkpoint(held);
      await held.merge.commitPositions();
      await this.deps.onTick?.(results, now, (id) => held.ticker.stats(id));
      // Nothing new and every rollout held: the runner may wait longer (holds last hours; a tick every ≤ 250 ms).
      const allHeld = results.every((r) => r.decision.action === "hold");
      return applied === 0 && held.merge.idle && allHeld ? "idle" : undefined;
    } catch (error) {
      if (error instanceof FencedOut) await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.held = undefined;
  }

  private batchSize(): number {
    return this.deps.batch ?? 1000;
  }

  /** Applies up to a batch of entries after the positions, in the shared merge order (partition-merge.ts). */
  /** How many it applied. */
  private async applyNew(held: Held, now: number): Promise<number> {
    held.merge.beginStep();
    for (let n = 0; n < this.batchSize(); n++) {
      const d = await held.merge.next();
      if (!d) return n;
      this.apply(held, d.entry, now);
    }
    return this.batchSize();
  }

  private apply(held: Held, entry: StreamEntry, now: number): void {
    if (entry.kind === "exposure") {
      const x = entry.exposure;
      if (held.ticker.counted(x.rolloutId, x.decisionId)) return;
      const { rolloutId, arm, userId, decisionId } = x;
      held.ticker.onDecision({ rolloutId, arm, userId, timestamp: x.at, decisionId, ...sessionOf(x) });
    } else if (entry.kind === "event") {
      if (this.isRetry(held, entry.event, now)) return;
      held.ticker.onEvent(entry.event);
    }
  }

  /** A click or purchase counted before (retried to another node, appended again); records new ones. */
  private isRetry(held: Held, event: UserEvent, now: number): boolean {
    if (!COUNTED_EVENTS.has(event.type)) return false;
    if (held.seenEvents.has(event.eventId)) return true;
    if (held.ticker.tracksSessionOf(event)) held.seenEvents.set(event.eventId, now);
    return false;
  }

  /** Ids older than a session's idle time: a retry that late would not find its session anyway. */
  private forgetSeen(held: Held, now: number): void {
    const horizon = now - held.ticker.limits.sessionTtlMs;
    for (const [id, at] of held.seenEvents) if (at < horizon) held.seenEvents.delete(id);
  }

  private async checkpoint(held: Held): Promise<void> {
    const state: ConsumerState = { positions: held.positions.toJSON(), seenEvents: [...held.seenEvents] };
    try {
      await held.writes.checkpoint(held.ticker.pendingSaves(), JSON.stringify(state));
    } catch (error) {
      held.ticker.savesFailed();
      throw error;
    }
  }
}

function sessionOf(x: { sessionId?: string }): { sessionId?: string } {
  return x.sessionId === undefined ? {} : { sessionId: x.sessionId };
}
