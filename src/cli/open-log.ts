import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoopwiseConfig } from "../app/config.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import { LoopwiseError } from "../core/errors.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { EventLog } from "../events/event-log.js";

export interface CliLog {
  decisions: DecisionStore;
  events: EventLog;
  policies: PolicyStore;
  close(): Promise<void>;
}

/**
 * The server's log as a CLI command opens it: PostgreSQL when the config names one
 * (`storage.postgresUrl`, LOOPWISE_POSTGRES_URL), else `<dataDir>/loopwise.db`. Modules load here, when a
 * command runs, so `loopwise --help` pays for none of them (src/cli/index.ts).
 * `create`: a missing SQLite file is created (import) instead of refused (readers, whose error names `what`).
 */
export async function openCliLog(
  config: LoopwiseConfig,
  options: { create?: boolean; what?: "decision log" | "event log" } = {},
): Promise<CliLog> {
  const { postgresUrl, postgresSchema } = config.storage;
  if (postgresUrl) {
    const { PostgresStore } = await import("../storage/postgres/postgres-store.js");
    const { PostgresDecisionStore } = await import("../storage/postgres/decision-store-postgres.js");
    const { PostgresEventLog } = await import("../storage/postgres/event-log-postgres.js");
    const { PostgresPolicyStore } = await import("../storage/postgres/policy-store-postgres.js");
    const store = await PostgresStore.open({ url: postgresUrl, schema: postgresSchema, max: 2 });
    return {
      decisions: new PostgresDecisionStore(store),
      events: new PostgresEventLog(store),
      policies: new PostgresPolicyStore(store),
      close: () => store.close(),
    };
  }
  const path = join(config.dataDir, "loopwise.db");
  if (!options.create && !existsSync(path)) {
    throw new LoopwiseError(
      "NOT_FOUND",
      `no ${options.what ?? "decision log"} at ${path} (use --data-dir, or run the server first)`,
    );
  }
  const { SqliteStore } = await import("../storage/sqlite/database.js");
  const { SqliteDecisionStore } = await import("../storage/sqlite/decision-store-sqlite.js");
  const { SqliteEventLog } = await import("../storage/sqlite/event-log-sqlite.js");
  const { SqlitePolicyStore } = await import("../storage/sqlite/policy-store.js");
  // Readers write nothing on the hot path: no writer thread. Imports keep the durable worker writer.
  const store = new SqliteStore(path, options.create ? {} : { writer: "inline" });
  return {
    decisions: new SqliteDecisionStore(store),
    events: new SqliteEventLog(store),
    policies: new SqlitePolicyStore(store.db),
    close: () => store.close(),
  };
}
