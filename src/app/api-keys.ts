import type { ApiKeys } from "../core/api-key.js";
import { SqliteApiKeyStore } from "../storage/sqlite/api-key-store.js";
import type { LoopwiseConfig } from "./config.js";

/** The API keys of a data dir (`<dataDir>/keys.db`; ":memory:" for this process only). */
export function openApiKeys(dataDir: string): ApiKeys {
  return SqliteApiKeyStore.open(dataDir);
}

/**
 * The API keys an install uses: in PostgreSQL when `storage.postgresUrl` is set (shared by every node of a
 * deployment and the CLI; each node refreshes its copy every 5 s), else the data dir's SQLite file.
 */
export async function openConfiguredApiKeys(config: LoopwiseConfig): Promise<ApiKeys> {
  const { postgresUrl, postgresSchema } = config.storage;
  if (!postgresUrl) return openApiKeys(config.dataDir);
  const { PostgresApiKeyStore } = await import("../storage/postgres/api-key-store-postgres.js");
  return PostgresApiKeyStore.open({ url: postgresUrl, schema: postgresSchema });
}
