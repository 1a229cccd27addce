import { describe } from "vitest";
import { fencedRolloutStoreContract } from "../../rollout/fenced-rollout-store.contract.js";
import { PostgresRolloutStore } from "./rollout-store-postgres.js";
import { postgresAvailable, testSchemas } from "./test-database.js";

/** The rollout duty's fenced writes on PostgreSQL (migration 5), each test on a fresh schema. */
const schemas = testSchemas();
const run = postgresAvailable("the fenced rollout writes");

describe.skipIf(!run)("PostgreSQL fenced rollout writes", () => {
  fencedRolloutStoreContract("postgres", async () => new PostgresRolloutStore(await schemas.open()));
});
