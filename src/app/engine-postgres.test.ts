import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import { buildServer } from "../server/server.js";
import { PostgresDecisionStore } from "../storage/postgres/decision-store-postgres.js";
import { PgLogWriter } from "../storage/postgres/pg-log-writer.js";
import { createPool } from "../storage/postgres/pool.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "../storage/postgres/test-database.js";
import { SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { createEngine, joinConfigOf } from "./engine.js";
import { defaultPolicyResolver, runEvaluation } from "./evaluate.js";
import { runEvaluationIsolated } from "./evaluate-isolated.js";

const logger = pino({ level: "silent" });
const schemas = testSchemas();
const run = postgresAvailable("the engine on PostgreSQL");
const candidates = [{ id: "good" }, { id: "meh" }, { id: "bad" }, { id: "worse" }];

const configOn = (schema: string) => ({
  rewards: { window: "1m" },
  storage: { postgresUrl: POSTGRES_TEST_URL as string, postgresSchema: schema },
});

describe.skipIf(!run)("an engine on PostgreSQL (LOOPWISE_POSTGRES_URL)", () => {
  it("ranks and takes rewards; a new engine on the same database reads them back and evaluates as SQLite does", async () => {
    const schema = schemas.name();
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    const first = await createEngine({ dataDir: ":memory:", clock, logger, config: configOn(schema) });
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const res = await first.rank({ userId: `u${i % 30}`, candidates, slots: 2 });
      ids.push(res.decisionId);
      if (res.ranking[0]?.id === "good" || i % 4 === 0) await first.reward(res.decisionId, { value: 1 });
      clock.advance(1000);
    }
    await first.upsertItems({ items: [{ id: "good", available: true }] });
    await first.close();

    // On a data dir (not ":memory:"), so evaluations run in a worker thread that connects by itself.
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-engine-pg-"));
    const second = await createEngine({ dataDir, clock, logger, config: configOn(schema) });
    try {
      const back = await second.decisions.get(ids[0] as string);
      expect(back?.decision.slots).toHaveLength(2);
      expect(back?.rewards.map((r) => [r.value, r.late, r.ignored])).toEqual([[1, false, false]]);
      expect(await second.decisions.count()).toBe(120);
      expect(second.parts.catalog.isAvailable("good")).toBe(true);
      expect(second.parts.policies.find("default")).toBeDefined();

      // The same log in SQLite: offline evaluation (the CLI's runEvaluation over loopwise:) agrees exactly.
      const sqlite = new SqliteStore(":memory:");
      const copy = new SqliteDecisionStore(sqlite);
      const joinConfig = joinConfigOf(second.config);
      for await (const batch of second.decisions.scan()) {
        for (const { decision, rewards } of batch) {
          await copy.append(decision);
          for (const r of rewards) await copy.addReward(r, joinConfig.windowMs);
        }
      }
      clock.advance(10 * MINUTE);
      const request = { logs: "loopwise:", targets: ["policy:uniform"], estimators: ["ips", "snips", "dr"] };
      const deps = { joinConfig, clock, resolvePolicy: defaultPolicyResolver(second.parts.policies) };
      const onPostgres = await runEvaluation(request, { ...deps, decisions: second.decisions });
      const onSqlite = await runEvaluation(request, { ...deps, decisions: copy });
      await sqlite.close();
      expect(onPostgres.n).toBe(240); // 120 decisions × 2 slots, every window closed
      expect(onPostgres.onPolicy).toEqual(onSqlite.onPolicy);
      expect(onPostgres.targets).toEqual(onSqlite.targets);
      // The server's path: the job in a worker thread with its own PostgreSQL connection.
      const isolated = await runEvaluationIsolated(request, {
        ...second.logLocation,
        decisions: second.decisions,
        joinConfig,
        clock,
        policies: second.parts.policies,
        timeLimitMs: 60_000,
      });
      expect(isolated.targets).toEqual(onSqlite.targets);
    } finally {
      await second.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("answers 503 with Retry-After when PostgreSQL cannot be reached, and acknowledges nothing", async () => {
    const engine = await createEngine({ dataDir: ":memory:", logger, config: configOn(schemas.name()) });
    const url = new URL(POSTGRES_TEST_URL as string);
    url.port = "1"; // nothing listens: a stopped server
    const { pool } = createPool({ url: url.toString(), connectTimeoutMs: 1000 });
    engine.parts.decisions = new PostgresDecisionStore({ pool, writer: new PgLogWriter(pool) });
    const app = await buildServer(engine);
    try {
      const res = await app.inject({
        method: "POST",
        url: "/v1/rank",
        headers: { authorization: `Bearer ${engine.adminKey}` },
        payload: { userId: "u1", candidates },
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("2");
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json()).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
    } finally {
      await app.close();
      await engine.close();
      await pool.end();
    }
  });
});
