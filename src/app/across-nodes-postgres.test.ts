import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "../storage/postgres/test-database.js";
import { createEngine, type Engine } from "./engine.js";

/**
 * Exactly-once effects across API nodes (issue 13): two engines on one PostgreSQL (and, for events, one
 * Redis feature store) stand for two API processes behind a load balancer; a client's retry may reach
 * either, also while the first attempt is still running.
 */
const logger = pino({ level: "silent" });
const schemas = testSchemas();
const runPg = postgresAvailable("rank and event retries across nodes");
const redisUrl = process.env.LOOPWISE_TEST_REDIS_URL;
if (runPg && !redisUrl) console.warn("skipping events across nodes: LOOPWISE_TEST_REDIS_URL is not set");
const candidates = Array.from({ length: 12 }, (_, j) => ({ id: `item-${j}`, features: { price: j } }));

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function twoNodes(storage: Record<string, unknown>): Promise<[Engine, Engine]> {
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const open = () => createEngine({ dataDir: ":memory:", clock, logger, config: { storage } });
  const nodes = [await open(), await open()] as [Engine, Engine];
  engines.push(...nodes);
  return nodes;
}

describe.skipIf(!runPg)("rank retried with one decisionId on two nodes sharing PostgreSQL", () => {
  it("answers the first decision everywhere (ranking, propensities, policy version), stored once", async () => {
    const schema = schemas.name();
    const [a, b] = await twoNodes({ postgresUrl: POSTGRES_TEST_URL as string, postgresSchema: schema });
    // Different users and contexts: a node answering its own ranking instead of the stored one would differ.
    const body = (i: number) => ({ userId: `u${i}`, context: { i }, candidates, slots: 4, decisionId: "retry-1" });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).rank(body(i))));
    const stored = (await a.decisions.get("retry-1"))?.decision;
    expect(stored).toBeDefined();
    const first = answers[0];
    for (const answer of answers) expect(answer).toEqual(first);
    expect(first?.ranking.map((s) => [s.id, s.probability])).toEqual(
      stored?.slots.map((s) => [s.itemId, s.propensity]),
    );
    expect(first?.policy).toEqual(stored?.policy);
    // Later retries, on either node, with yet another body.
    expect(await b.rank(body(20))).toEqual(first);
    expect(await a.rank(body(21))).toEqual(first);
    expect(await a.decisions.count()).toBe(1);
    expect(await b.decisions.count()).toBe(1);
  });
});

describe.skipIf(!runPg || !redisUrl)("events retried on two nodes sharing PostgreSQL and a Redis feature store", () => {
  it("counts each event id once in the shared feature window, also when both nodes get it at once", async () => {
    const schema = schemas.name();
    const prefix = `lwtest-acrossnodes-${schema}`;
    const storage = { postgresUrl: POSTGRES_TEST_URL as string, postgresSchema: schema, redisUrl, redisPrefix: prefix };
    const [a, b] = await twoNodes(storage);
    try {
      const batch = (n: number, from = 0) => ({
        events: Array.from({ length: n }, (_, i) => ({
          eventId: `ev-${from + i}`,
          type: "click",
          userId: "shopper",
          itemId: `item-${(from + i) % 5}`,
        })),
      });
      // The same batch to both nodes at once: between them every event is accepted once, a duplicate once.
      const [first, second] = await Promise.all([a.ingestEvents(batch(6)), b.ingestEvents(batch(6))]);
      expect(first.accepted + second.accepted).toBe(6);
      expect(first.duplicates + second.duplicates).toBe(6);
      // Retried later on either node, and a batch mixing retried and new events.
      expect((await b.ingestEvents(batch(6))).duplicates).toBe(6);
      const mixed = await a.ingestEvents(batch(4, 4));
      expect([mixed.accepted, mixed.duplicates]).toEqual([2, 2]);
      const now = a.parts.clock.now();
      for (const node of [a, b]) {
        const features = await node.parts.features?.read("shopper", now);
        expect(features?.aggregates.session_count_click).toBe(8);
      }
      const { decisionId } = await b.rank({ userId: "shopper", candidates });
      expect((await b.decisions.get(decisionId))?.decision.features).toMatchObject({ session_count_click: 8 });
    } finally {
      await a.parts.features?.clear();
    }
  });
});

describe.skipIf(!runPg || !redisUrl)(
  "an event committed by a node that died before applying it (the crash window)",
  () => {
    it("is applied once by the retry on the other node: features and its reward join", async () => {
      const schema = schemas.name();
      const prefix = `lwtest-crashwindow-${schema}`;
      const storage = {
        postgresUrl: POSTGRES_TEST_URL as string,
        postgresSchema: schema,
        redisUrl,
        redisPrefix: prefix,
      };
      const [a, b] = await twoNodes(storage);
      try {
        const { decisionId } = await a.rank({ userId: "shopper", candidates });
        const now = a.parts.clock.now();
        const events = [
          { eventId: "cw-1", type: "view", userId: "shopper", itemId: "item-1" },
          { eventId: "cw-2", type: "click", userId: "shopper", itemId: "item-1", decisionId },
        ];
        await a.ingestEvents({ events: [{ eventId: "cw-0", type: "view", userId: "shopper", itemId: "item-0" }] });
        // Node A commits the batch to PostgreSQL and is killed before any effect: the log holds it, Redis does not.
        const { inserted } = await a.parts.events.append(events.map((e) => ({ ...e, timestamp: now })));
        expect(inserted).toHaveLength(2);
        // The client's retry reaches node B: the log answers duplicates, and the effects are completed.
        const retry = await b.ingestEvents({ events });
        expect(retry).toMatchObject({ accepted: 0, duplicates: 2, rewardsJoined: 1 });
        // More retries on either node, one of them twice at once, add nothing.
        const more = await Promise.all([
          a.ingestEvents({ events }),
          b.ingestEvents({ events }),
          b.ingestEvents({ events }),
        ]);
        expect(more.map((r) => r.rewardsJoined)).toEqual([0, 0, 0]);
        for (const node of [a, b]) {
          const f = await node.parts.features?.read("shopper", now);
          expect([
            f?.aggregates.session_count_view,
            f?.aggregates.session_count_click,
            f?.aggregates.window_events,
          ]).toEqual([2, 1, 3]);
        }
        expect((await b.decisions.get(decisionId))?.rewards.map((r) => r.rewardId)).toEqual(["event:cw-2"]);
        expect(await a.parts.events.count()).toBe(3);
      } finally {
        await a.parts.features?.clear();
      }
    });
  },
);
