import { HoldRecorder } from "./audit-log.js";
import type { LoopwiseConfig } from "./config.js";
import { DashboardAggregates } from "./dashboard-aggregates.js";
import type { AuditLog, MinuteStore } from "./dashboard-ports.js";
import type { EngineEvents } from "./engine-events.js";
import { MINUTE_MS } from "./minute-aggregates.js";

/**
 * What the dashboard needs kept beside serving: the per-minute aggregates (fed by the engine's events,
 * flushed every minute and on close) and the audit timeline (admin actions, controller decisions).
 */
export class DashboardDuties {
  private lastFlushMinute: number;
  private readonly unsubscribe: () => void;
  private readonly holds: HoldRecorder;

  private constructor(
    readonly aggregates: DashboardAggregates,
    readonly audit: AuditLog,
    emitter: EngineEvents,
    now: number,
  ) {
    this.lastFlushMinute = Math.floor(now / MINUTE_MS);
    this.holds = new HoldRecorder(audit);
    const off = [
      emitter.on("decision", (record) => aggregates.apply({ kind: "decision", record })),
      emitter.on("reward", ({ reward, outcome }) => aggregates.apply({ kind: "reward", reward, outcome })),
      emitter.on("events", (events) => aggregates.apply({ kind: "events", events })),
    ];
    this.unsubscribe = () => {
      for (const f of off) f();
    };
  }

  static async open(
    deps: { minutes: MinuteStore; audit: AuditLog; emitter: EngineEvents; config: LoopwiseConfig },
    now: number,
  ): Promise<DashboardDuties> {
    const { dashboard, rewards } = deps.config;
    const aggregates = await DashboardAggregates.open(
      {
        store: deps.minutes,
        aggregation: rewards.aggregation,
        limits: {
          retentionMs: dashboard.retention,
          rewardHorizonMs: 2 * rewards.window,
          sessionTtlMs: dashboard.sessionTtl,
          maxTracked: dashboard.maxTracked,
        },
      },
      now,
    );
    return new DashboardDuties(aggregates, deps.audit, deps.emitter, now);
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
    await this.aggregates.flush(now);
  }

  /** Stops listening and writes what is not written yet. */
  async close(now: number): Promise<void> {
    this.unsubscribe();
    await this.aggregates.flush(now);
  }
}
