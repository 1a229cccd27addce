import { describe } from "vitest";
import { dashboardStoresContract } from "../../app/dashboard-stores.contract.js";
import { policyStoreContract } from "../../bandit/policy-store.contract.js";
import { decisionStoreContract } from "../../decisions/decision-store.contract.js";
import { eventLogContract } from "../../events/event-log.contract.js";
import { rolloutStoreContract } from "../../rollout/rollout-store.contract.js";
import { PostgresAuditLog, PostgresMinuteStore } from "./dashboard-store-postgres.js";
import { PostgresDecisionStore } from "./decision-store-postgres.js";
import { PostgresEventLog } from "./event-log-postgres.js";
import { PostgresPolicyStore } from "./policy-store-postgres.js";
import { PostgresRolloutStore } from "./rollout-store-postgres.js";
import { postgresAvailable, testSchemas } from "./test-database.js";

/** The ports' shared contract suites, on PostgreSQL: each test on a fresh schema of its own. */
const schemas = testSchemas();
const run = postgresAvailable("the store contracts");

describe.skipIf(!run)("PostgreSQL adapters", () => {
  decisionStoreContract("postgres", async () => {
    const store = await schemas.open();
    return { store: new PostgresDecisionStore(store), close: () => store.close() };
  });

  eventLogContract("postgres", async () => new PostgresEventLog(await schemas.open()));

  policyStoreContract("postgres", async () => new PostgresPolicyStore(await schemas.open()));

  dashboardStoresContract("postgres", async () => {
    const store = await schemas.open();
    return { minutes: new PostgresMinuteStore(store), audit: new PostgresAuditLog(store) };
  });

  rolloutStoreContract("postgres", async () => {
    const schema = schemas.name();
    const store = await schemas.open(schema);
    // Another pool on the same schema: what a restarted process sees.
    const reopen = async () => new PostgresRolloutStore(await schemas.open(schema));
    return { store: new PostgresRolloutStore(store), reopen };
  });
});
