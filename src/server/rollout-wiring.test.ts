import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { HOUR, ManualClock } from "../core/clock.js";
import { buildServer } from "./server.js";

let engine: Engine;
let app: FastifyInstance;
let clock: ManualClock;
const adminKey = "test-admin-key-0123456789";
const auth = { authorization: `Bearer ${adminKey}` };

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }), config: { adminKey } });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

describe("admin routes", () => {
  it("registering policies, choosing the default and retraining need the admin key", async () => {
    const spec = { id: "eg", type: "epsilon-greedy", params: { epsilon: 0.1 } };
    expect((await app.inject({ method: "POST", url: "/v1/policies", payload: spec })).statusCode).toBe(401);
    const wrong = { authorization: "Bearer nope" };
    expect((await app.inject({ method: "POST", url: "/v1/policies", payload: spec, headers: wrong })).json().code).toBe(
      "UNAUTHORIZED",
    );
    expect((await app.inject({ method: "POST", url: "/v1/policies", payload: spec, headers: auth })).statusCode).toBe(
      201,
    );
    expect((await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "eg" } })).statusCode).toBe(
      401,
    );
    expect(
      (await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "eg" }, headers: auth }))
        .statusCode,
    ).toBe(200);
    expect((await app.inject({ method: "POST", url: "/v1/models/train", payload: {} })).statusCode).toBe(401);
    expect((await app.inject({ method: "GET", url: "/v1/policies/eg", headers: auth })).json().default).toBe(true);
  });
});

describe("rollouts through the server", () => {
  it("rolls out against the default policy when the request names no incumbent", async () => {
    const start = (payload: object) => app.inject({ method: "POST", url: "/v1/rollouts", payload, headers: auth });
    const created = await start({ candidate: "uniform", opeGate: false });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ candidate: "uniform", incumbent: "default" });
    await app.inject({ method: "POST", url: `/v1/rollouts/${created.json().id}/abort`, headers: auth });
    // The default as it is when the rollout starts: after PUT /v1/policies/default, that one.
    await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "uniform" }, headers: auth });
    const same = await start({ candidate: "uniform", opeGate: false });
    expect(same.statusCode).toBe(400);
    expect(same.json().errors).toEqual([{ path: "candidate", message: "must differ from incumbent" }]);
    expect((await start({ candidate: "default", opeGate: false })).json()).toMatchObject({ incumbent: "uniform" });
  });

  it("needs the admin key, routes rank by sticky assignment, and logs rollout id, stage and arm", async () => {
    const body = { candidate: "uniform", incumbent: "default", stages: [50, 100], minHold: "1h", opeGate: false };
    expect((await app.inject({ method: "POST", url: "/v1/rollouts", payload: body })).statusCode).toBe(401);
    const unknown = await app.inject({
      method: "POST",
      url: "/v1/rollouts",
      payload: { ...body, candidate: "nope" },
      headers: auth,
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors).toEqual([
      { path: "candidate", message: 'policy "nope" is not registered (POST /v1/policies)' },
    ]);
    const created = await app.inject({ method: "POST", url: "/v1/rollouts", payload: body, headers: auth });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    await engine.tick(); // starts the first stage
    const arms = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const userId = `u${i % 40}`;
      const res = (
        await app.inject({
          method: "POST",
          url: "/v1/rank",
          payload: { userId, candidates: [{ id: "a" }, { id: "b" }] },
          headers: auth,
        })
      ).json();
      expect(res.rollout).toMatchObject({ id, stage: 50 });
      const arm = res.rollout.arm as string;
      if (arms.has(userId)) expect(arms.get(userId)).toBe(arm); // sticky
      arms.set(userId, arm);
      expect(res.policy.id).toBe(arm === "candidate" ? "uniform" : "default");
      const logged = await engine.decisions.get(res.decisionId);
      expect(logged?.decision.rollout).toEqual(res.rollout);
    }
    const shares = [...arms.values()].filter((a) => a === "candidate").length / arms.size;
    expect(shares).toBeGreaterThan(0.2);
    expect(shares).toBeLessThan(0.8);
    clock.advance(HOUR);
    await engine.tick();
    const view = (await app.inject({ method: "GET", url: `/v1/rollouts/${id}`, headers: auth })).json();
    expect(JSON.stringify(view)).toContain("candidate");
    expect(view.id).toBe(id);
  });
});
