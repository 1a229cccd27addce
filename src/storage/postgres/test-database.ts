import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import { PostgresStore } from "./postgres-store.js";

/** The PostgreSQL tests run against (CI sets it, .ci/run); unset, they are skipped and say so. */
export const POSTGRES_TEST_URL = process.env.LOOPWISE_TEST_POSTGRES_URL;

/** Warns once per test file that its PostgreSQL cases are skipped, and returns whether they run. */
export function postgresAvailable(what: string): boolean {
  if (!POSTGRES_TEST_URL) console.warn(`skipping ${what} on PostgreSQL: LOOPWISE_TEST_POSTGRES_URL is not set`);
  return POSTGRES_TEST_URL !== undefined;
}

/**
 * Fresh schemas for one test file: `lw_test_<random>_<n>`, one per `open()`, so test files, tests and
 * other engineers sharing the database never see each other's rows. All of them are dropped after the
 * file (register it at the file's top level, where afterAll belongs).
 */
export function testSchemas() {
  const prefix = `lw_test_${randomBytes(4).toString("hex")}`;
  const created: string[] = [];
  const open: PostgresStore[] = [];
  afterAll(async () => {
    for (const store of open) await store.close().catch(() => {});
    if (!POSTGRES_TEST_URL || created.length === 0) return;
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    for (const schema of created) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });
  /** A new schema name (created by the first PostgresStore opened on it). */
  const name = (): string => {
    const schema = `${prefix}_${created.length}`;
    created.push(schema);
    return schema;
  };
  /** A migrated store on a schema (a new one by default), closed after the file unless the test closes it. */
  const openStore = async (schema = name()): Promise<PostgresStore> => {
    const store = await PostgresStore.open({ url: POSTGRES_TEST_URL as string, schema, max: 4 });
    open.push(store);
    return store;
  };
  return { name, open: openStore };
}
