import { describe, expect, it } from "vitest";
import { MIGRATIONS, migrate, SCHEMA_VERSION } from "./migrations.js";
import { createPool } from "./pool.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "./test-database.js";

const schemas = testSchemas();
const run = postgresAvailable("the migrations");

describe.skipIf(!run)("PostgreSQL migrations", () => {
  it("two nodes starting together apply each migration once (advisory lock), a restart applies none", async () => {
    const schema = schemas.name();
    const pools = [1, 2, 3].map(() => createPool({ url: POSTGRES_TEST_URL as string, schema, max: 2 }).pool);
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool, schema)));
      // Exactly one of the racing nodes applied everything; the others found it done.
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      expect(await migrate(pools[0] as (typeof pools)[0], schema)).toEqual([]);
      const { rows } = await (pools[0] as (typeof pools)[0]).query<{ version: number }>(
        "SELECT version FROM schema_version ORDER BY version",
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(rows.at(-1)?.version).toBe(SCHEMA_VERSION);
    } finally {
      for (const pool of pools) await pool.end();
    }
  });

  it("rejects a schema name that is not a plain identifier (it is spliced into SQL)", () => {
    expect(() => createPool({ url: POSTGRES_TEST_URL as string, schema: "x; DROP TABLE y" })).toThrow(/must match/);
  });
});
