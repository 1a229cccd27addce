import type { Logger } from "pino";
import type { MinuteStore } from "./dashboard-ports.js";
import { type AggregatorLimits, MINUTE_MS, MinuteAggregator, type MinuteRow } from "./minute-aggregates.js";

/** What the dashboard's routes read of the per-minute aggregates (routes/timeseries.ts, dashboard/overview.ts). */
export interface MinuteReader {
  range(series: string, from: number, to: number): MinuteRow[];
  seriesNames(): string[];
  /** How far back minutes are kept (ms). */
  readonly retention: number;
  /** Decisions and sessions this process holds for attribution (none on a node that only reads). */
  readonly tracked: { decisions: number; sessions: number };
  /** True when the minutes are the whole deployment's (scale-out), false when this process's own. */
  readonly shared: boolean;
}

/** A full reload this often picks up the rare change older than the refresh horizon (a long session's purchase). */
const FULL_RELOAD_MS = 10 * MINUTE_MS;

/**
 * The per-minute aggregates as a scale-out node reads them: the `dashboard-fold` duty (duties/dashboard-fold.ts)
 * folds the whole cluster's decision stream into the shared store, and every node, API or worker, shows those
 * minutes instead of folding its own traffic. A copy in memory serves the routes synchronously (as the embedded
 * fold does); `refresh` re-reads the minutes the fold may still change: those within the reward horizon or a
 * session's idle time (a reward adds to its decision's minute, a purchase to its session's first), and
 * everything every FULL_RELOAD_MS. The copy holds minutes only, no attribution state.
 */
export class SharedMinutes implements MinuteReader {
  readonly shared = true;
  readonly tracked = { decisions: 0, sessions: 0 };
  private lastFull: number;
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly view: MinuteAggregator,
    private readonly store: MinuteStore,
    private readonly limits: AggregatorLimits,
    now: number,
  ) {
    this.lastFull = now;
  }

  static async open(store: MinuteStore, limits: AggregatorLimits, now: number): Promise<SharedMinutes> {
    const view = new MinuteAggregator(limits);
    view.restore(await store.load(now - limits.retentionMs));
    return new SharedMinutes(view, store, limits, now);
  }

  get retention(): number {
    return this.limits.retentionMs;
  }

  range(series: string, from: number, to: number): MinuteRow[] {
    return this.view.range(series, from, to);
  }

  seriesNames(): string[] {
    return this.view.seriesNames();
  }

  /** Re-reads the minutes that may have changed; one read at a time (a call during one joins it). */
  refresh(now: number): Promise<void> {
    this.refreshing ??= this.reload(now).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Refreshes every `everyMs` until the returned function is called (errors are logged; the copy stays). */
  every(everyMs: number, now: () => number, logger: Logger): () => void {
    const timer = setInterval(() => {
      this.refresh(now()).catch((err: unknown) => logger.warn({ err }, "reading the shared dashboard minutes failed"));
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async reload(now: number): Promise<void> {
    const full = now - this.lastFull >= FULL_RELOAD_MS;
    const horizon = Math.max(this.limits.rewardHorizonMs, this.limits.sessionTtlMs) + MINUTE_MS;
    const rows = await this.store.load(full ? now - this.limits.retentionMs : now - horizon);
    this.view.restore(rows);
    this.view.prune(now);
    if (full) this.lastFull = now;
  }
}
