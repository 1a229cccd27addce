import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock } from "../core/clock.js";
import type { IngestResponse } from "./api-types.js";
import { compiledResponse } from "./compiled-responses.js";

/**
 * The compiled serializers write only what their schema declares: every field the engine answers must
 * come out of them as `JSON.stringify` would write it. Real engine responses of the routes that use them
 * (events, items; server/routes/core.ts) go through a route with the compiled serializer and are compared
 * with the plain JSON.
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
  for (const op of ["ingestEvents", "upsertItems"]) {
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
    const cases: [string, unknown][] = [
      ["upsertItems", items],
      ["ingestEvents", events],
    ];
    for (const [op, body] of cases) expect(await throughCompiled(op, body), op).toEqual(plainJson(body));
  });

  it("write every optional field of a batch answer", async () => {
    const full: IngestResponse = {
      accepted: 1,
      duplicates: 0,
      rejected: 1,
      rewardsJoined: 1,
      results: [
        { index: 0, id: 'e-\u00e9"quoted"', status: "accepted" },
        { index: 1, status: "rejected", errors: [{ path: "events[1].type", message: 'must be a "name"\n' }] },
      ],
    };
    expect(await throughCompiled("ingestEvents", full)).toEqual(plainJson(full));
  });

  it("drop a field the schema does not declare (why the comparison above matters)", async () => {
    const answer = { accepted: 0, duplicates: 0, rejected: 0, rewardsJoined: 0, results: [], undeclared: 1 };
    const { undeclared: _, ...declared } = answer;
    expect(await throughCompiled("ingestEvents", answer)).toEqual(declared);
  });
});
