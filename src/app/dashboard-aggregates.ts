import type { MinuteStore } from "./dashboard-ports.js";
import { type AggregateEntry, type AggregatorLimits, MinuteAggregator, type MinuteRow } from "./minute-aggregates.js";

/** Sessions checked for idling out per event-loop turn of a flush (~1 ms). */
const SESSION_SWEEP_SLICE = 5000;

export interface DashboardAggregatesOptions {
  store: MinuteStore;
  limits: AggregatorLimits;
  aggregation: "earliest" | "sum";
}

/**
 * The per-minute aggregates with their persistence: the fold (minute-aggregates.ts) in memory, the minutes it
 * changed written to the store by `flush(now)` (every minute and on close), the stored minutes within the
 * retention restored by `open`. What a restart loses is only attribution state (which open decision and
 * session a later reward or purchase belongs to), never a flushed minute.
 */
export class DashboardAggregates {
  /** This process's own traffic (app/shared-minutes.ts reads the whole deployment's in scale-out). */
  readonly shared = false;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fold: MinuteAggregator,
    private readonly store: MinuteStore,
    private readonly retentionMs: number,
  ) {}

  static async open(options: DashboardAggregatesOptions, now: number): Promise<DashboardAggregates> {
    const fold = new MinuteAggregator(options.limits, options.aggregation);
    fold.restore(await options.store.load(now - options.limits.retentionMs));
    return new DashboardAggregates(fold, options.store, options.limits.retentionMs);
  }

  apply(entry: AggregateEntry): void {
    this.fold.apply(entry);
  }

  range(series: string, from: number, to: number): MinuteRow[] {
    return this.fold.range(series, from, to);
  }

  seriesNames(): string[] {
    return this.fold.seriesNames();
  }

  /** Decisions and sessions held for attribution (each at most `maxTracked`). */
  get tracked(): { decisions: number; sessions: number } {
    return this.fold.tracked;
  }

  get retention(): number {
    return this.retentionMs;
  }

  /** Writes the changed minutes, drops what fell out of the retention. One flush at a time. */
  flush(now: number): Promise<void> {
    const run = this.flushing.then(async () => {
      const oldest = this.fold.prune(now, 0);
      // Idle sessions in slices with the event loop free between them (a full walk is 100k sessions).
      while (!this.fold.sweepSessions(now, SESSION_SWEEP_SLICE)) await new Promise((r) => setImmediate(r));
      const rows = this.fold.takeDirty();
      try {
        await this.store.save(rows);
      } catch (error) {
        this.fold.markDirty(rows); // written at the next flush
        throw error;
      }
      await this.store.deleteBefore(oldest);
    });
    this.flushing = run.catch(() => undefined); // a failed flush must not stop the later ones
    return run;
  }
}
