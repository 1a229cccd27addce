import fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { requestRetrain } from "../../app/retrain-request.js";
import { ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { ModelHolder } from "../../recommend/model-holder.js";
import { trainRecommender } from "../../recommend/recommenders.js";
import type { SessionModel } from "../../recommend/session-model.js";
import { createMemorySnapshotStore } from "../../storage/memory/snapshot-store-memory.js";
import { recommendationsRoutes } from "./recommendations.js";

const sessions = [
  ...Array.from({ length: 20 }, (_, k) => ({ id: `A${k}`, items: ["p", "q", "r"], end: k })),
  ...Array.from({ length: 10 }, (_, k) => ({ id: `B${k}`, items: ["s", "t"], end: 100 + k })),
];
const clock = new ManualClock(Date.UTC(2026, 0, 1));
let app: FastifyInstance;
afterEach(() => app?.close());

async function build(
  holder: ModelHolder<SessionModel>,
  session: string[] = ["p", "q"],
  unavailable = new Set<string>(),
  scaleOut?: Pick<Parameters<typeof recommendationsRoutes>[0], "requestTraining">,
) {
  app = fastify();
  app.setErrorHandler((err, _req, reply) => {
    if (isLoopwiseError(err))
      return reply.status(err.status).send({ code: err.code, detail: err.message, errors: err.errors });
    return reply.status(500).send({ detail: String(err) });
  });
  let trained = 0;
  await app.register(
    recommendationsRoutes({
      holder,
      sessionItems: async () => session,
      isAvailable: (id) => !unavailable.has(id),
      train: async () => {
        trained++;
        clock.advance(1000);
        const m = trainRecommender("vstan", sessions, { clock });
        holder.swap(m);
        return { version: m.version };
      },
      ...scaleOut,
    }),
  );
  return { trained: () => trained };
}

describe("recommendations routes", () => {
  it("recommends the session's next items with the model that decided, excluding and skipping unavailable", async () => {
    const holder = new ModelHolder(trainRecommender("vstan", sessions, { clock }));
    await build(holder, ["p", "q"], new Set(["s"]));
    const res = await app.inject({ method: "GET", url: "/v1/users/u1/recommendations?k=3&exclude=p,q" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.userId).toBe("u1");
    expect(body.model).toEqual({ name: "vstan", version: holder.current()!.version });
    // r is the only scored, allowed item; t fills from popularity; p, q are excluded, s is unavailable.
    expect(body.items.map((r: { id: string }) => r.id)).toEqual(["r", "t"]);
    expect(body.items[0].score).toBeGreaterThan(0);
    expect(body.popularFill).toBe(1);
    expect(body.fallback).toBeUndefined();
  });

  it("says so when a cold session falls back to popularity", async () => {
    await build(new ModelHolder(trainRecommender("vstan", sessions, { clock })), []);
    const body = (await app.inject({ method: "GET", url: "/v1/users/new/recommendations" })).json();
    expect(body.fallback).toBe("popular");
    expect(body.items).toHaveLength(5);
  });

  it("validates k", async () => {
    await build(new ModelHolder(trainRecommender("pop", sessions, { clock })));
    const res = await app.inject({ method: "GET", url: "/v1/users/u1/recommendations?k=0" });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].path).toBe("query.k");
  });

  it("answers 404 before any model, then trains on POST /v1/models/train and describes the model", async () => {
    const holder = new ModelHolder<SessionModel>();
    const { trained } = await build(holder);
    expect((await app.inject({ method: "GET", url: "/v1/users/u1/recommendations" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/v1/models/current" })).statusCode).toBe(404);
    const res = await app.inject({ method: "POST", url: "/v1/models/train" });
    expect(res.statusCode).toBe(200);
    expect(trained()).toBe(1);
    const current = (await app.inject({ method: "GET", url: "/v1/models/current" })).json();
    expect(current).toEqual({
      name: "vstan",
      version: res.json().version,
      trainedAt: new Date(clock.now()).toISOString(),
    });
  });

  it("in scale-out, asks the trainer duty instead of training here: 202 with the request and how to follow it", async () => {
    const snapshots = createMemorySnapshotStore();
    const { trained } = await build(new ModelHolder<SessionModel>(), ["p"], new Set(), {
      requestTraining: () => requestRetrain(snapshots, clock.now()),
    });
    const res = await app.inject({ method: "POST", url: "/v1/models/train" });
    expect(res.statusCode).toBe(202);
    expect(res.headers.location).toBe("/v1/models/current");
    expect(res.json()).toMatchObject({
      status: "requested",
      request: 1,
      requestedAt: new Date(clock.now()).toISOString(),
    });
    expect(res.json().follow).toContain("GET /v1/models/current");
    expect(trained()).toBe(0);
    expect((await app.inject({ method: "POST", url: "/v1/models/train" })).json().request).toBe(2);
    expect((await snapshots.latest("trainer:requests"))?.version).toBe(2);
  });
});
