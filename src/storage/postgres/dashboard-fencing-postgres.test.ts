import { describe } from "vitest";
import { fencingMinuteStoreContract } from "../../app/fencing-minute-store.contract.js";
import { PostgresMinuteStore } from "./dashboard-store-postgres.js";
import { postgresAvailable, testSchemas } from "./test-database.js";

/** The dashboard fold duty's fenced writes on PostgreSQL, each test on a fresh schema. */
const schemas = testSchemas();
const run = postgresAvailable("the dashboard fold's fenced writes");

describe.skipIf(!run)("PostgreSQL fenced minute writes", () => {
  fencingMinuteStoreContract("postgres", async () => new PostgresMinuteStore(await schemas.open()));
});
