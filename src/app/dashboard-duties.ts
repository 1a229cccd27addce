import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";
import { HoldRecorder } from "./audit-log.js";
import type { LoopwiseConfig } from "./config.js";
import { DashboardAggregates } from "./dashboard-aggregates.js";
import type { AuditLog, MinuteStore } from "./dashboard-ports.js";
import type { EngineEvents } from "./engine-events.js";
import { type AggregatorLimits, MINUTE_MS } from "./minute-aggregates.js";
import { type MinuteReader, SharedMinutes } from "./shared-minutes.js";

/** The fold's bounds from the config: one rule for the embedded fold and the `dashboard-fold` duty. */
export function aggregatorLimitsOf(config: Pick<LoopwiseConfig, "dashboard" | "rewards">): AggregatorLimits {
  return {
    retentionMs: config.dashboard.retention,
    // Two reward windows: a deferred activation's wait and the window itself.
    rewardHorizonMs: 2 * config.rewards.window,
    sessionTtlMs: config.dashboard.sessionTtl,
    maxTracked: config.dashboard.maxTracked,
  };
}

/**
 * What the dashboard needs kept beside serving: the per-minute aggregates and the audit timeline (admin actions,
 * controller decisions). In one process the aggregates are this process's fold, fed by the engine's events and
 * flushed every minute and on close. In scale-out (`shared`) the `dashboard-fold` duty folds the whole cluster's
 * decision stream into the shared store (duties/dashboard-fold.ts), and every node only reads it
 * (app/shared-minutes.ts, every `dashboard.refreshEvery`): nothing is folded or written here.
 */
export class DashboardDuties {
  private lastFlushMinute: number;
  private readonly unsubscribe: () => void;
  private readonly holds: HoldRecorder;

  private constructor(
    readonly aggregates: MinuteReader,
    /** Where the minutes are stored (the `dashboard-fold` duty writes there in scale-out: worker-role.ts). */
    readonly store: MinuteStore,
    readonly audit: AuditLog,
    private readonly own: DashboardAggregates | undefined,
    unsubscribe: () => void,
    now: number,
  ) {
    this.lastFlushMinute = Math.floor(now / MINUTE_MS);
    this.holds = new HoldRecorder(audit);
    this.unsubscribe = unsubscribe;
  }

  static async open(
    deps: {
      minutes: MinuteStore;
      audit: AuditLog;
      emitter: EngineEvents;
      config: LoopwiseConfig;
      /** Scale-out: read the `dashboard-fold` duty's minutes instead of folding this process's traffic. */
      shared?: { logger: Logger; clock: Clock };
    },
    now: number,
  ): Promise<DashboardDuties> {
    const limits = aggregatorLimitsOf(deps.config);
    if (deps.shared) {
      const { clock, logger } = deps.shared;
      const minutes = await SharedMinutes.open(deps.minutes, limits, now);
      const stop = minutes.every(deps.config.dashboard.refreshEvery, () => clock.now(), logger);
      return new DashboardDuties(minutes, deps.minutes, deps.audit, undefined, stop, now);
    }
    const own = await DashboardAggregates.open(
      { store: deps.minutes, aggregation: deps.config.rewards.aggregation, limits },
      now,
    );
    const { emitter } = deps;
    const off = [
      emitter.on("decision", (record) => own.apply({ kind: "decision", record })),
      emitter.on("reward", ({ reward, outcome }) => own.apply({ kind: "reward", reward, outcome })),
      emitter.on("events", (events) => own.apply({ kind: "events", events })),
    ];
    const unsubscribe = () => {
      for (const f of off) f();
    };
    return new DashboardDuties(own, deps.minutes, deps.audit, own, unsubscribe, now);
  }

  /**
   * The engine's periodic work: records the controller's holds from this tick's decisions, and flushes the
   * aggregates once a minute.
   */
  async tick(
    now: number,
    decisions: Parameters<HoldRecorder["record"]>[0] | undefined,
    stats: (rolloutId: string) => unknown,
  ): Promise<void> {
    if (decisions) await this.holds.record(decisions, now, stats);
    const minute = Math.floor(now / MINUTE_MS);
    if (minute <= this.lastFlushMinute) return;
    this.lastFlushMinute = minute;
    await this.own?.flush(now);
  }

  /** Writes this process's changed minutes and drops what fell out of the retention (nothing on a reading node). */
  async flush(now: number): Promise<void> {
    await this.own?.flush(now);
  }

  /** Stops listening and writes what is not written yet. */
  async close(now: number): Promise<void> {
    this.unsubscribe();
    await this.own?.flush(now);
  }
}
