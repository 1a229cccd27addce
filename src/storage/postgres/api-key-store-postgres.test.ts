import { describe } from "vitest";
import { apiKeysContract } from "../api-keys.contract.js";
import { PostgresApiKeyStore } from "./api-key-store-postgres.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "./test-database.js";

const schemas = testSchemas();

// A skipped suite, not an empty file, without PostgreSQL: vitest fails a test file that defines no suite.
describe.skipIf(!postgresAvailable("the API key store"))("API key store on PostgreSQL", () => {
  apiKeysContract("postgres", async () => {
    const schema = schemas.name();
    // Two nodes on one schema; their timers are far off so only `sync` (what the timer does) refreshes.
    const a = await PostgresApiKeyStore.open({ url: POSTGRES_TEST_URL as string, schema, cacheMs: 60_000 });
    const b = await PostgresApiKeyStore.open({ url: POSTGRES_TEST_URL as string, schema, cacheMs: 60_000 });
    return {
      a,
      b,
      sync: async () => {
        await a.refresh();
        await b.refresh();
      },
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  });
});
