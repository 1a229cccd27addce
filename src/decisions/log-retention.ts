/**
 * The durable log's retention port (config `log.retention`): what a store deletes when its rows are older than
 * a cutoff. A retention pass is a series of bounded steps, each short enough not to stall serving: SQLite deletes
 * one facts block of decisions (with their rewards) or a batch of events per step on the log writer's thread
 * (storage/sqlite/log-retention-sqlite.ts); PostgreSQL drops one expired day partition or deletes one batch of
 * the id keys per step (storage/postgres/log-partitions.ts). The runner (duties/log-retention.ts) loops the steps.
 */
export interface LogRetention {
  /** Gets the coming days ready for writes (PostgreSQL: creates their partitions); returns what it created. */
  prepare(now: number, daysAhead: number): Promise<number>;
  /** One bounded step of deleting what is older than `cutoff` (epoch ms); `done` when nothing expired is left. */
  step(cutoff: number): Promise<RetentionStep>;
  /** The oldest time still held per log table (undefined: the table is empty). */
  oldestRetained(): Promise<Partial<Record<LogTable, number | undefined>>>;
}

export type LogTable = "decisions" | "rewards" | "events";

export interface RetentionStep {
  /** Rows deleted by this step, per table (a dropped partition's rows are counted by its estimate: 0 if unknown). */
  deleted: Partial<Record<LogTable, number>>;
  /** Day partitions dropped by this step, per table (PostgreSQL). */
  partitionsDropped: Partial<Record<LogTable, number>>;
  done: boolean;
}

const DAY = 24 * 3_600_000;

/** The UTC day (days since the epoch) of an epoch-ms time. */
export function dayOf(t: number): number {
  return Math.floor(t / DAY);
}

export function dayStart(day: number): number {
  return day * DAY;
}
