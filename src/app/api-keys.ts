import type { ApiKeys } from "../core/api-key.js";
import { SqliteApiKeyStore } from "../storage/sqlite/api-key-store.js";

/** The API keys of a data dir (`<dataDir>/keys.db`; ":memory:" for this process only). */
export function openApiKeys(dataDir: string): ApiKeys {
  return SqliteApiKeyStore.open(dataDir);
}
