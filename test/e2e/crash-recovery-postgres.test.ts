import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "../../src/storage/postgres/test-database.js";
import { killHard, postJson, randomPort, startServerProcess } from "./server-process.js";

const dataDir = mkdtempSync(join(tmpdir(), "loopwise-crash-pg-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const schemas = testSchemas();
const run = postgresAvailable("the kill -9 test on PostgreSQL");

/**
 * Acknowledged means committed in PostgreSQL: a server process on LOOPWISE_POSTGRES_URL under concurrent
 * ranks, click events and rewards is killed with SIGKILL; every acknowledged write is in the database,
 * once (the primary keys make a second copy impossible; the counts check nothing else slipped in).
 */
describe.skipIf(!run)("kill -9 of a server on PostgreSQL mid-load", () => {
  it("keeps every acknowledged decision, event and reward in PostgreSQL", async () => {
    const schema = schemas.name();
    const env = { LOOPWISE_POSTGRES_URL: POSTGRES_TEST_URL as string, LOOPWISE_POSTGRES_SCHEMA: schema };
    const server = await startServerProcess(dataDir, randomPort(), env);
    const acked = { decisions: [] as string[], events: [] as string[], rewards: [] as string[] };
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const body = { userId: `u${c}`, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }], slots: 2 };
          const r = await postJson(`${server.url}/v1/rank`, body, server.adminKey);
          if (r.status !== 200) continue;
          const decisionId = r.body.decisionId as string;
          acked.decisions.push(decisionId);
          const [first, second] = (r.body.ranking as { id: string }[]).map((x) => x.id);
          const eventId = `ev-${c}-${i}`;
          const event = { type: "click", userId: `u${c}`, itemId: first, decisionId, eventId };
          const e = await postJson(`${server.url}/v1/events`, { events: [event] }, server.adminKey);
          if (e.status === 200) acked.events.push(eventId);
          const rewardId = `rw-${c}-${i}`;
          const reward = { value: 2, rewardId, itemId: second };
          const w = await postJson(`${server.url}/v1/decisions/${decisionId}/reward`, reward, server.adminKey);
          if (w.status === 200) acked.rewards.push(rewardId);
        } catch {
          return; // the server died under us: in-flight requests were never acknowledged
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, c) => client(c));
    const started = Date.now();
    while (Date.now() - started < 15_000 && (Date.now() - started < 2000 || acked.decisions.length < 40)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await killHard(server.child);
    stop = true;
    await Promise.all(clients);
    expect(acked.decisions.length).toBeGreaterThan(30);

    const db = new pg.Client({ connectionString: POSTGRES_TEST_URL, options: `-c search_path=${schema}` });
    await db.connect();
    try {
      const present = async (table: string, column: string, ids: string[]) => {
        const { rows } = await db.query(`SELECT ${column} AS id FROM ${table} WHERE ${column} = ANY($1)`, [ids]);
        const found = new Set(rows.map((r: { id: string }) => r.id));
        return ids.filter((id) => !found.has(id));
      };
      expect(await present("decisions", "decision_id", acked.decisions)).toEqual([]);
      expect(await present("events", "event_id", acked.events)).toEqual([]);
      expect(await present("rewards", "reward_id", acked.rewards)).toEqual([]);
      // Each acknowledged click became a reward from the event (the join ran before the 200).
      const { rows } = await db.query("SELECT count(*)::int AS n FROM rewards WHERE source = 'event'");
      expect(rows[0].n).toBeGreaterThanOrEqual(acked.events.length);
    } finally {
      await db.end();
    }
  }, 90_000);
});
