import { join } from "node:path";
import type { PolicyStore } from "../bandit/policy-store.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { LogRetention } from "../decisions/log-retention.js";
import type { Catalog } from "../events/catalog.js";
import type { EventLog } from "../events/event-log.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import { openPostgresCatalog } from "../storage/postgres/catalog-postgres.js";
import { PostgresAuditLog, PostgresMinuteStore } from "../storage/postgres/dashboard-store-postgres.js";
import { PostgresDecisionStore } from "../storage/postgres/decision-store-postgres.js";
import { PostgresEventLog } from "../storage/postgres/event-log-postgres.js";
import { PostgresLogPartitions } from "../storage/postgres/log-partitions.js";
import { PostgresPolicyStore } from "../storage/postgres/policy-store-postgres.js";
import { PostgresStore } from "../storage/postgres/postgres-store.js";
import { PostgresRolloutStore } from "../storage/postgres/rollout-store-postgres.js";
import { openSqliteCatalog } from "../storage/sqlite/catalog-sqlite.js";
import { SqliteAuditLog, SqliteMinuteStore } from "../storage/sqlite/dashboard-store-sqlite.js";
import { type JournalReplay, SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { SqliteEventLog } from "../storage/sqlite/event-log-sqlite.js";
import { SqliteLogRetention } from "../storage/sqlite/log-retention-sqlite.js";
import type { WriterStats } from "../storage/sqlite/log-writer.js";
import { SqlitePolicyStore } from "../storage/sqlite/policy-store.js";
import { SqliteRolloutStore } from "../storage/sqlite/rollout-store.js";
import type { LoopwiseConfig } from "./config.js";
import type { AuditLog, MinuteStore } from "./dashboard-ports.js";

/** Where a worker thread finds the decision log: a SQLite file, or PostgreSQL when `postgres` is set. */
export interface LogLocation {
  dataDir: string;
  dbPath: string;
  postgres?: { url: string; schema: string };
}

/**
 * The durable log and records of one engine, on one backend: SQLite in `<dataDir>/loopwise.db` (the
 * embedded default) or PostgreSQL (`storage.postgresUrl`, shared by several processes). Both write the
 * hot records through a group-commit writer and resolve once committed.
 */
export interface LogStores {
  backend: "sqlite" | "postgres";
  events: EventLog;
  decisions: DecisionStore;
  catalog: Catalog;
  policies: PolicyStore;
  rollouts: RolloutStore;
  /** The dashboard's per-minute aggregates and the audit timeline. */
  minutes: MinuteStore;
  audit: AuditLog;
  /** Deletes expired log rows (config `log.retention`) and, on PostgreSQL, creates the coming days' partitions. */
  retention: LogRetention;
  health(): { ok: boolean; reason?: string };
  writerStats(): WriterStats;
  /** What the start replayed from an earlier run's decision journal (SQLite with `storage.decisionJournal`). */
  journalReplay?: JournalReplay;
  /** The SQLite log writer's group commit delay waits for more writes only while this says more may come (log-writer.ts). */
  waitForMoreWrites(moreMayCome: () => boolean): void;
  close(): Promise<void>;
}

export async function openLogStores(config: LoopwiseConfig, location: LogLocation): Promise<LogStores> {
  if (location.postgres) {
    const store = await PostgresStore.open({ url: location.postgres.url, schema: location.postgres.schema });
    return {
      backend: "postgres",
      events: new PostgresEventLog(store),
      decisions: new PostgresDecisionStore(store),
      catalog: await openPostgresCatalog(store),
      policies: new PostgresPolicyStore(store),
      rollouts: new PostgresRolloutStore(store),
      minutes: new PostgresMinuteStore(store),
      audit: new PostgresAuditLog(store),
      retention: new PostgresLogPartitions(store.pool, store.schema),
      health: () => store.health(),
      writerStats: () => store.writer.stats(),
      // PostgreSQL's pool commits each write as it comes (its own group commit is the server's).
      waitForMoreWrites: () => {},
      close: () => store.close(),
    };
  }
  // The dedup window is rebuilt from the log before the writer says it is ready, so before anything is served.
  const sqlite = new SqliteStore(location.dbPath, {
    durability: config.storage.durability,
    groupCommitMs: config.storage.groupCommitMs,
    dedupWindow: config.ingest.dedupWindow,
    loadDedupAtStart: true,
    journal: config.storage.decisionJournal,
  });
  await sqlite.ready(); // the log writer's thread is up, and the journal replayed, before anything is served
  return {
    backend: "sqlite",
    ...(sqlite.journalReplay ? { journalReplay: sqlite.journalReplay } : {}),
    events: new SqliteEventLog(sqlite),
    decisions: new SqliteDecisionStore(sqlite),
    catalog: openSqliteCatalog(sqlite),
    // Snapshots are written by the log writer's thread; a periodic save does not stall requests.
    policies: new SqlitePolicyStore(sqlite.db, sqlite.writer),
    rollouts: new SqliteRolloutStore(sqlite.db),
    minutes: new SqliteMinuteStore(sqlite.db),
    audit: new SqliteAuditLog(sqlite.db),
    retention: new SqliteLogRetention(sqlite.writer, sqlite.db),
    health: () => sqlite.health(),
    writerStats: () => sqlite.writer.stats(),
    waitForMoreWrites: (moreMayCome) => sqlite.writer.waitForMoreWrites?.(moreMayCome),
    close: () => sqlite.close(),
  };
}

/** The log's location for an engine's config and data dir. */
export function logLocationOf(config: LoopwiseConfig, dataDir: string): LogLocation {
  const dbPath = dataDir === ":memory:" ? ":memory:" : join(dataDir, "loopwise.db");
  const { postgresUrl, postgresSchema } = config.storage;
  return postgresUrl
    ? { dataDir, dbPath, postgres: { url: postgresUrl, schema: postgresSchema } }
    : { dataDir, dbPath };
}

/** Opens the decision log in a worker thread (evaluations, warm starts): its own connection, reads only. */
export async function openDecisionLogForWorker(
  location: Omit<LogLocation, "dataDir">,
): Promise<{ decisions: DecisionStore; close: () => Promise<void> }> {
  if (location.postgres) {
    const store = await PostgresStore.open({ ...location.postgres, max: 2 });
    return { decisions: new PostgresDecisionStore(store), close: () => store.close() };
  }
  const store = new SqliteStore(location.dbPath);
  const decisions = new SqliteDecisionStore(store);
  // After the store's idempotent schema statements: from here on this connection refuses every write.
  store.db.pragma("query_only = ON");
  return {
    decisions,
    close: async () => {
      store.db.close();
    },
  };
}
