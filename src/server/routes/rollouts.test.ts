import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { openApiKeys } from "../../app/api-keys.js";
import { RolloutController } from "../../app/rollout-controller.js";
import { HOUR, ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { MemoryRolloutStore } from "../../storage/memory/rollout-store.js";
import { installAuth } from "../auth.js";
import { rolloutsRoutes } from "./rollouts.js";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const KEY = "test-admin-key-0123456789";
const auth = { authorization: `Bearer ${KEY}` };

async function setup() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const controller = await RolloutController.open({ store: new MemoryRolloutStore(), clock });
  app = Fastify();
  app.setErrorHandler((error, _req, reply) => {
    if (isLoopwiseError(error))
      reply.code(error.status).send({ code: error.code, detail: error.message, errors: error.errors });
    else reply.code(500).send({ detail: String(error) });
  });
  const keys = openApiKeys(":memory:");
  await keys.put("admin", "admin", KEY);
  installAuth(app, keys);
  await app.register(rolloutsRoutes({ controller }));
  return { app, controller, clock };
}

describe("rollouts routes", () => {
  it("needs a key on every route", async () => {
    const { app } = await setup();
    for (const [method, url] of [
      ["GET", "/v1/rollouts"],
      ["POST", "/v1/rollouts"],
      ["GET", "/v1/rollouts/x"],
      ["POST", "/v1/rollouts/x/pause"],
    ] as const) {
      const res = await app.inject({ method, url, headers: { authorization: "Bearer wrong" } });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe("UNAUTHORIZED");
    }
    expect((await app.inject({ method: "GET", url: "/v1/rollouts" })).statusCode).toBe(401);
  });

  it("starts a rollout, shows live per-arm metrics and history, and applies manual controls", async () => {
    const { app, controller, clock } = await setup();
    const created = await app.inject({
      method: "POST",
      url: "/v1/rollouts",
      headers: auth,
      payload: { candidate: "cand", incumbent: "inc", minHold: "6h", guardrails: { ctr: 0.05 }, opeGate: false },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ candidate: "cand", incumbent: "inc", status: "running", stage: 0, stageIndex: -1 });
    expect(body.config).toMatchObject({
      minHoldMs: 6 * HOUR,
      guardrails: { ctr: { enabled: true, maxRelativeDrop: 0.05 } },
    });
    const id = body.id as string;

    await controller.tick();
    for (let i = 0; i < 400; i++) {
      const route = controller.route(`u${i}`);
      if (!route) throw new Error("no route");
      controller.onDecision({
        rolloutId: id,
        arm: route.arm,
        userId: `u${i}`,
        sessionId: `s${i}`,
        timestamp: clock.now(),
      });
      if (i % 4 === 0)
        controller.onEvent({
          eventId: `c${i}`,
          type: "click",
          userId: `u${i}`,
          sessionId: `s${i}`,
          timestamp: clock.now(),
        });
    }
    const shown = (await app.inject({ method: "GET", url: `/v1/rollouts/${id}`, headers: auth })).json();
    expect(shown).toMatchObject({
      stage: 1,
      shares: { candidate: 0.01, incumbent: 0.99 },
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    const inc = shown.arms.incumbent;
    expect(inc.decisions + shown.arms.candidate.decisions).toBe(400);
    expect(inc.metrics.ctr.value).toBeCloseTo(inc.clickedDecisions / inc.decisions, 10);
    expect(inc.metrics.ctr.ci95[0]).toBeLessThan(inc.metrics.ctr.value);
    // No purchase yet: conversion 0 with a Wilson interval [0, > 0], not Wald's [0, 0].
    expect(inc.metrics.conversion.value).toBe(0);
    expect(inc.metrics.conversion.ci95[0]).toBe(0);
    expect(inc.metrics.conversion.ci95[1]).toBeGreaterThan(0);
    expect(inc.metrics.conversion.n).toBe(inc.sessions);
    expect(shown.guardrails.map((g: { metric: string }) => g.metric)).toEqual([
      "ctr",
      "conversion",
      "revenuePerSession",
    ]);
    expect(shown.next.action).toBe("hold");
    expect(shown.history.map((e: { action: string }) => e.action)).toEqual(["create", "advance"]);

    const paused = await app.inject({ method: "POST", url: `/v1/rollouts/${id}/pause`, headers: auth });
    expect(paused.json().status).toBe("paused");
    const again = await app.inject({ method: "POST", url: `/v1/rollouts/${id}/pause`, headers: auth });
    expect(again.statusCode).toBe(409);
    expect((await app.inject({ method: "POST", url: `/v1/rollouts/${id}/resume`, headers: auth })).json().status).toBe(
      "running",
    );
    expect((await app.inject({ method: "POST", url: `/v1/rollouts/${id}/advance`, headers: auth })).json().stage).toBe(
      10,
    );
    const aborted = (await app.inject({ method: "POST", url: `/v1/rollouts/${id}/abort`, headers: auth })).json();
    expect(aborted).toMatchObject({ status: "aborted", stage: 0 });
    expect(aborted.arms.incumbent.decisions).toBe(inc.decisions); // frozen counters from the audit log
    const list = (await app.inject({ method: "GET", url: "/v1/rollouts", headers: auth })).json();
    expect(list.rollouts).toHaveLength(1);
    expect(list.rollouts[0]).toMatchObject({ id, status: "aborted" });
  });

  it("answers validation errors with field paths and 404 for unknown rollouts", async () => {
    const { app } = await setup();
    const bad = await app.inject({
      method: "POST",
      url: "/v1/rollouts",
      headers: auth,
      payload: { candidate: "a", incumbent: "b", minHold: "soon", stages: [10, 5], extra: 1 },
    });
    expect(bad.statusCode).toBe(400);
    const paths = bad.json().errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["minHold"]));
    const order = await app.inject({
      method: "POST",
      url: "/v1/rollouts",
      headers: auth,
      payload: { candidate: "a", incumbent: "b", stages: [10, 5] },
    });
    expect(order.json().errors).toEqual([{ path: "stages[1]", message: expect.stringContaining("increase") }]);
    const missing = await app.inject({ method: "GET", url: "/v1/rollouts/nope", headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("ROLLOUT_NOT_FOUND");
    expect((await app.inject({ method: "POST", url: "/v1/rollouts/nope/abort", headers: auth })).statusCode).toBe(404);
  });
});
