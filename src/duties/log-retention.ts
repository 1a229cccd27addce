import { Counter, Gauge, type Registry } from "prom-client";
import type { LogConfig } from "../app/log-retention-config.js";
import type { LogRetention, LogTable } from "../decisions/log-retention.js";
import type { Duty, DutyContext } from "./duty.js";

/** Lease name of the scale-out duty. */
export const LOG_RETENTION = "log-retention";

/** Retention steps per call of `advance`: each is one small delete or drop, so a call stays well under a lease's ttl. */
const STEPS_PER_ADVANCE = 20;

/**
 * Runs log retention (`log.retention`) every `log.retentionEvery`: first the coming days are prepared
 * (PostgreSQL partitions, `log.partitionsAhead` days), then, with a retention set, everything older than
 * now − retention is deleted in bounded steps (decisions/log-retention.ts). One pass may span many `advance`
 * calls; its cutoff is fixed when it starts. Both runners share it: the embedded engine's timer
 * (app/log-retention-timer.ts) and the `log-retention` duty below.
 */
export class LogRetentionRunner {
  private lastPass = Number.NEGATIVE_INFINITY;
  private cutoff: number | undefined;
  private readonly metrics;

  constructor(
    private readonly retention: LogRetention,
    private readonly config: LogConfig,
    registry: Registry,
  ) {
    this.metrics = retentionMetrics(registry);
  }

  /** Forget the last pass's time: the next `advance` starts one (a new lease holder). */
  reset(): void {
    this.lastPass = Number.NEGATIVE_INFINITY;
    this.cutoff = undefined;
  }

  /** Does up to STEPS_PER_ADVANCE steps of the due pass; resolves true when more of it is left. */
  async advance(now: number): Promise<boolean> {
    if (this.cutoff === undefined) {
      if (now - this.lastPass < this.config.retentionEvery) return false;
      this.lastPass = now;
      const created = await this.retention.prepare(now, this.config.partitionsAhead);
      if (created > 0) this.metrics.created.inc(created);
      if (this.config.retention === undefined) return this.finish();
      this.cutoff = now - this.config.retention;
    }
    for (let i = 0; i < STEPS_PER_ADVANCE; i++) {
      const step = await this.retention.step(this.cutoff);
      for (const [table, n] of Object.entries(step.deleted)) this.metrics.deleted.inc({ table }, n);
      for (const [table, n] of Object.entries(step.partitionsDropped)) this.metrics.dropped.inc({ table }, n);
      if (step.done) return this.finish();
    }
    return true;
  }

  private async finish(): Promise<false> {
    this.cutoff = undefined;
    const oldest = await this.retention.oldestRetained();
    for (const table of ["decisions", "rewards", "events"] as LogTable[]) {
      const t = oldest[table];
      if (t !== undefined) this.metrics.oldest.set({ table }, t / 1000);
      else if (table in oldest) this.metrics.oldest.remove({ table }); // empty now
    }
    return false;
  }
}

/** `log-retention`: the runner under a lease, so one worker prepares partitions and deletes, not every one. */
export function createLogRetentionDuty(ctx: DutyContext, retention: LogRetention): Duty {
  const runner = new LogRetentionRunner(retention, ctx.config.log, ctx.metrics.registry);
  return {
    name: LOG_RETENTION,
    async start() {
      runner.reset(); // run at once: the worker before may have died long ago
    },
    // Resolving true asks the duty runner to call again at once (duty-runner.ts): more of the pass is left. The
    // Duty port says void; the runner reads the value as unknown.
    step: (now) => runner.advance(now) as Promise<unknown> as Promise<void>,
    async stop() {
      runner.reset();
    },
  };
}

function retentionMetrics(registry: Registry) {
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  return {
    deleted:
      existing<Counter<"table">>("loopwise_log_retention_deleted_rows_total") ??
      new Counter({
        name: "loopwise_log_retention_deleted_rows_total",
        help: "Log rows deleted by retention, by table (a dropped PostgreSQL partition counts its row estimate)",
        labelNames: ["table"],
        registers: [registry],
      }),
    dropped:
      existing<Counter<"table">>("loopwise_log_retention_partitions_dropped_total") ??
      new Counter({
        name: "loopwise_log_retention_partitions_dropped_total",
        help: "Expired day partitions of the PostgreSQL log dropped by retention, by table",
        labelNames: ["table"],
        registers: [registry],
      }),
    created:
      existing<Counter>("loopwise_log_partitions_created_total") ??
      new Counter({
        name: "loopwise_log_partitions_created_total",
        help: "Day partitions of the PostgreSQL log created ahead of time (all tables)",
        registers: [registry],
      }),
    oldest:
      existing<Gauge<"table">>("loopwise_log_oldest_retained_timestamp_seconds") ??
      new Gauge({
        name: "loopwise_log_oldest_retained_timestamp_seconds",
        help: "Time of the oldest row still in the log, by table (epoch seconds; read after each retention pass)",
        labelNames: ["table"],
        registers: [registry],
      }),
  };
}
