import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RankResponse } from "../app/api-types.js";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock } from "../core/clock.js";
import { compiledResponse } from "./compiled-responses.js";

/**
 * The compiled serializers write only what their schema declares: every field the engine answers must
 * come out of them as `JSON.stringify` would write it. Real engine responses (and a rank response with
 * every optional field) go through a route with the compiled serializer and are compared with the
 * plain JSON.
 */
let engine: Engine;
let app: FastifyInstance;
const served = new Map<string, unknown>();

beforeAll(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
    logger: pino({ level: "silent" }),
  });
  app = Fastify({ logger: false });
  for (const op of ["rank", "ingestEvents", "upsertItems", "reward", "activate"]) {
    app.post(`/${op}`, compiledResponse(op), async () => served.get(op));
  }
});
afterAll(async () => {
  await app?.close();
  await engine?.close();
});

async function throughCompiled(op: string, body: unknown): Promise<unknown> {
  served.set(op, body);
  const res = await app.inject({ method: "POST", url: `/${op}` });
  expect(res.statusCode).toBe(200);
  return res.json();
}

const plainJson = (x: unknown) => JSON.parse(JSON.stringify(x));

describe("compiled response serializers", () => {
  it("write the engine's real responses as JSON.stringify does", async () => {
    const items = await engine.upsertItems({ items: [{ id: "a", category: "x", price: 3 }, { id: "b" }, { id: "" }] });
    const events = await engine.ingestEvents({
      events: [
        { type: "view", userId: "u", itemId: "a", eventId: "e1" },
        { type: "view", userId: "u", itemId: "a", eventId: "e1" },
        { type: "?" },
      ],
    });
    expect(events.results.map((r) => r.status)).toEqual(["accepted", "duplicate", "rejected"]);
    expect(events.results[2]?.errors?.length).toBeGreaterThan(0);
    const ranked = await engine.rank({
      userId: "u",
      context: { device: "mobile" },
      candidates: [{ id: "a", features: { discount: 0.2 } }, { id: "b" }],
      slots: 2,
    });
    const deferred = await engine.rank({ userId: "u", candidates: [{ id: "a" }, { id: "b" }], deferActivation: true });
    const activated = await engine.activate(deferred.decisionId);
    const reward = await engine.reward(ranked.decisionId, { value: 1, itemId: ranked.ranking[0]?.id });
    const cases: [string, unknown][] = [
      ["upsertItems", items],
      ["ingestEvents", events],
      ["rank", ranked],
      ["activate", activated],
      ["reward", reward],
    ];
    for (const [op, body] of cases) expect(await throughCompiled(op, body), op).toEqual(plainJson(body));
  });

  it("write every optional field of a rank response", async () => {
    const full: RankResponse = {
      decisionId: "d-1",
      policy: { id: "default", type: "thompson", version: 3 },
      ranking: [{ id: "a", position: 0, probability: 0.123456789012345 }],
      candidateSource: "recommender",
      fallbacks: ["policy:baseline", "candidates:popular"],
      activated: true,
      rollout: { id: "r1", stage: 0.1, arm: "candidate" },
      modelVersion: "m-7",
    };
    expect(await throughCompiled("rank", full)).toEqual(plainJson(full));
  });

  it("drop a field the schema does not declare (why the comparison above matters)", async () => {
    const reward = { decisionId: "d", rewardId: "r", status: "accepted", undeclared: 1 };
    expect(await throughCompiled("reward", reward)).toEqual({ decisionId: "d", rewardId: "r", status: "accepted" });
  });
});
