import { describe, expect, it } from "vitest";
import { LoopwiseError } from "../../core/errors.js";
import { makeDecision } from "../../decisions/test-fixtures.js";
import { PostgresDecisionStore } from "./decision-store-postgres.js";
import { PgLogWriter } from "./pg-log-writer.js";
import { createPool } from "./pool.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "./test-database.js";

const schemas = testSchemas();
const run = postgresAvailable("the failure and group-commit tests");

/** Settles to "ok" or the error's code: a write must do one of the two, never hang (the test's timeout). */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof LoopwiseError ? e.code : `unexpected: ${(e as Error).message}`),
  );

describe.skipIf(!run)("PostgreSQL log: group commit and failures", () => {
  it("coalesces concurrent appends into few transactions, each acknowledged only once committed", async () => {
    const store = await schemas.open();
    const decisions = new PostgresDecisionStore(store);
    const n = 200;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => decisions.append(makeDecision({ decisionId: `g${i}`, timestamp: i }))),
    );
    expect(results.every((r) => r === true)).toBe(true);
    const { batches, writes } = store.writer.stats();
    expect(writes).toBe(n);
    expect(batches).toBeLessThan(n / 10); // group commit: many appends per transaction
    // Acknowledged means committed: another connection (a new pool) sees every one.
    const other = await schemas.open(store.schema);
    expect(await new PostgresDecisionStore(other).count()).toBe(n);
  });

  it("a faulty op in a batch rejects alone; the others commit", async () => {
    const store = await schemas.open();
    const decisions = new PostgresDecisionStore(store);
    await decisions.append(makeDecision({ decisionId: "exists" }));
    const [good, bad, alsoGood] = await Promise.all([
      outcome(decisions.append(makeDecision({ decisionId: "a" }))),
      // All-or-none import holding an existing id: a unique violation, only this op fails.
      decisions.appendMany([makeDecision({ decisionId: "b" }), makeDecision({ decisionId: "exists" })]).then(
        () => "ok",
        (e: Error) => e.message,
      ),
      outcome(decisions.append(makeDecision({ decisionId: "c" }))),
    ]);
    expect([good, alsoGood]).toEqual(["ok", "ok"]);
    expect(bad).toMatch(/duplicate key/);
    expect(await decisions.get("b")).toBeUndefined();
    expect(await decisions.count()).toBe(3);
  });

  it("after its connections are terminated (pg_terminate_backend) the next writes reconnect or answer 503, never hang", async () => {
    const store = await schemas.open();
    const decisions = new PostgresDecisionStore(store);
    await decisions.append(makeDecision({ decisionId: "before" }));
    const { rows } = await store.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const killer = await schemas.open(store.schema);
    // Every backend of this pool (the one used above and any idle one) on this schema's application.
    await killer.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'loopwise' AND pid <> pg_backend_pid() AND pid = ANY($1)`,
      [rows.map((r) => r.pid)],
    );
    const first = await outcome(decisions.append(makeDecision({ decisionId: "during" })));
    expect(["ok", "STORAGE_UNAVAILABLE"]).toContain(first);
    // The pool replaced the dead connection: the next write commits.
    expect(await outcome(decisions.append(makeDecision({ decisionId: "after" })))).toBe("ok");
    expect(store.health().ok).toBe(true);
    expect((await decisions.get("after"))?.decision.decisionId).toBe("after");
  });

  it("PostgreSQL down: writes reject with STORAGE_UNAVAILABLE (HTTP 503 + Retry-After), nothing acknowledged", async () => {
    const store = await schemas.open();
    const decisions = new PostgresDecisionStore(store);
    await decisions.append(makeDecision({ decisionId: "kept" }));
    // A pool whose every connection attempt fails, as when the server is stopped: nothing listens on port 1.
    const url = new URL(POSTGRES_TEST_URL as string);
    url.port = "1";
    const { pool } = createPool({ url: url.toString(), schema: store.schema, connectTimeoutMs: 1000 });
    const writer = new PgLogWriter(pool);
    const unreachable = new PostgresDecisionStore({ pool, writer });
    const results = await Promise.all([
      outcome(unreachable.append(makeDecision({ decisionId: "lost-1" }))),
      outcome(
        unreachable.addReward(
          { rewardId: "r", decisionId: "kept", value: 1, type: "click", source: "api", timestamp: 1_000_001 },
          60_000,
        ),
      ),
    ]);
    expect(results).toEqual(["STORAGE_UNAVAILABLE", "STORAGE_UNAVAILABLE"]);
    expect(writer.health().ok).toBe(false);
    expect(await outcome(unreachable.get("kept"))).toBe("STORAGE_UNAVAILABLE");
    await pool.end();
    expect(await decisions.get("lost-1")).toBeUndefined();
  });
});
