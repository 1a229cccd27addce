import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { simulateDecisions } from "../../ope/simulate-decisions.js";
import { PostgresDecisionStore } from "../../storage/postgres/decision-store-postgres.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "../../storage/postgres/test-database.js";
import { openSqliteDecisionStore } from "../../storage/sqlite/decision-store-sqlite.js";
import { runCliInProcess } from "../test-cli.js";

const schemas = testSchemas();
const run = postgresAvailable("loopwise evaluate on PostgreSQL");
const dir = mkdtempSync(join(tmpdir(), "loopwise-evaluate-pg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const common = ["--logs", "loopwise:", "--target", '{"type":"uniform"}', "--estimators", "ips,snips,dr"];
const evaluate = (args: string[]) => runCliInProcess(["evaluate", ...common, "--format", "json", ...args]);

describe.skipIf(!run)("loopwise evaluate with storage.postgresUrl", () => {
  it("reads the log from PostgreSQL and gives the same report as the same log in SQLite", async () => {
    const sim = simulateDecisions({ decisions: 300, candidates: 3, slots: 2, seed: 9 });
    const schema = schemas.name();
    const pg = new PostgresDecisionStore(await schemas.open(schema));
    const sqliteDir = join(dir, "sqlite");
    const sqlite = openSqliteDecisionStore(join(sqliteDir, "loopwise.db"));
    for (const store of [pg, sqlite.decisions]) {
      await Promise.all(sim.decisions.map((d) => store.append(d)));
      await Promise.all(sim.rewards.map((r) => store.addReward(r, 600_000)));
    }
    await sqlite.store.close();
    const config = join(dir, "pg.config.json");
    writeFileSync(config, JSON.stringify({ storage: { postgresUrl: POSTGRES_TEST_URL, postgresSchema: schema } }));
    // An empty data dir: the log can only come from PostgreSQL.
    const onPostgres = JSON.parse(await evaluate(["--config", config, "--data-dir", join(dir, "empty")]));
    const onSqlite = JSON.parse(await evaluate(["--data-dir", sqliteDir]));
    expect(onPostgres.n).toBe(600);
    expect(onPostgres.targets).toEqual(onSqlite.targets);
  });
});
