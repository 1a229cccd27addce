import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyRegistry } from "../../bandit/policy-registry.js";
import { ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { MemoryPolicyStore } from "../../storage/memory/policy-store.js";
import { policiesRoutes } from "./policies.js";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function setup(store = new MemoryPolicyStore()) {
  const registry = await PolicyRegistry.open({ clock: new ManualClock(1_700_000_000_000), store });
  app = Fastify();
  app.setErrorHandler((error, _req, reply) => {
    if (isLoopwiseError(error)) {
      reply.code(error.status).send({ code: error.code, detail: error.message, errors: error.errors });
    } else reply.code(500).send({ detail: String(error) });
  });
  await app.register(policiesRoutes({ registry }));
  return { app, registry, store };
}

const spec = { type: "thompson", params: { poolSize: 32 }, features: { dims: 1024 } };

describe("policies routes", () => {
  it("lists the built-in specs, and each registers as the policy it describes", async () => {
    const { app } = await setup();
    const res = await app.inject({ method: "GET", url: "/v1/policy-templates" });
    expect(res.statusCode).toBe(200);
    const { templates } = res.json() as {
      templates: { name: string; spec: { type: string }; params: Record<string, unknown>; explores: boolean }[];
    };
    expect(templates[0]).toMatchObject({ name: "default", spec: { type: "thompson" } });
    expect(templates.map((t) => t.name)).toEqual(expect.arrayContaining(["uniform", "linucb", "epsilon-greedy"]));
    for (const t of templates) {
      const created = await app.inject({
        method: "POST",
        url: "/v1/policies",
        payload: { id: `t-${t.name}`, ...t.spec },
      });
      expect(created.statusCode, t.name).toBe(201);
      const shown = (await app.inject({ method: "GET", url: `/v1/policies/t-${t.name}` })).json();
      expect(shown.params, t.name).toEqual(t.params);
    }
    expect(templates.find((t) => t.name === "uniform")?.explores).toBe(true);
  });

  it("registers from a spec, then shows parameters and learning progress", async () => {
    const { app, registry } = await setup();
    const created = await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "ts", ...spec } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: "ts", type: "thompson", version: 1, changed: true });
    const input = { context: { d: "m" }, candidates: [{ id: "a" }, { id: "b" }] };
    registry.find("ts")!.update({ input, index: 1, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
    const shown = await app.inject({ method: "GET", url: "/v1/policies/ts" });
    expect(shown.statusCode).toBe(200);
    const body = shown.json();
    expect(body).toMatchObject({ id: "ts", type: "thompson", version: 1, default: true });
    expect(body.params.poolSize).toBe(32);
    expect(body.progress).toMatchObject({ updates: 1, rewardMean: 1 });
  });

  it("is idempotent for the same spec and bumps the version for a new one", async () => {
    const { app } = await setup();
    await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "p", ...spec } });
    const same = await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "p", ...spec } });
    expect(same.statusCode).toBe(200);
    expect(same.json().version).toBe(1);
    const changed = await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "p", type: "uniform" } });
    expect(changed.statusCode).toBe(201);
    expect(changed.json()).toMatchObject({ type: "uniform", version: 2 });
  });

  it("generates an id, lists, and switches the default", async () => {
    const { app, store } = await setup();
    const a = (await app.inject({ method: "POST", url: "/v1/policies", payload: { type: "uniform" } })).json();
    expect(a.id).toMatch(/^pol_/);
    await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "eg", type: "epsilon-greedy" } });
    const set = await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "eg" } });
    expect(set.statusCode).toBe(200);
    expect(await store.getDefault()).toBe("eg");
    const list = (await app.inject({ method: "GET", url: "/v1/policies" })).json();
    expect(list.default).toBe("eg");
    expect(list.policies.map((p: { id: string }) => p.id)).toEqual([a.id, "eg"]);
    const alias = (await app.inject({ method: "GET", url: "/v1/policies/default" })).json();
    expect(alias.id).toBe("eg");
  });

  it("computes a distribution for a logged context", async () => {
    const { app } = await setup();
    await app.inject({ method: "POST", url: "/v1/policies", payload: { id: "u", type: "uniform" } });
    const res = await app.inject({
      method: "POST",
      url: "/v1/policies/u/distribution",
      payload: { context: { x: 1 }, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }], placed: [0] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().probabilities).toEqual([0, 1 / 3, 1 / 3, 1 / 3]);
  });

  it("answers 400 with field paths and 404 for unknown policies", async () => {
    const { app } = await setup();
    const badType = await app.inject({ method: "POST", url: "/v1/policies", payload: { type: "nope" } });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().errors[0].path).toBe("type");
    const badParam = await app.inject({
      method: "POST",
      url: "/v1/policies",
      payload: { type: "epsilon-greedy", params: { epsilon: 2 } },
    });
    expect(badParam.statusCode).toBe(400);
    expect(badParam.json().errors[0].path).toBe("params.epsilon");
    const missing = await app.inject({ method: "GET", url: "/v1/policies/ghost" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("POLICY_NOT_FOUND");
    const badDefault = await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "ghost" } });
    expect(badDefault.statusCode).toBe(404);
  });

  it("names the field of a bad profile selection, and of a warm start this server cannot do", async () => {
    const { app, registry } = await setup();
    const post = (payload: Record<string, unknown>) => app.inject({ method: "POST", url: "/v1/policies", payload });
    const badProfile = await post({ id: "p", type: "thompson", features: { profile: ["a*b"] } });
    expect(badProfile.statusCode).toBe(400);
    expect(badProfile.json().errors[0].path).toBe("features.profile[0]");
    // These routes were built without a decision log to train from.
    const noLog = await post({ id: "w", type: "thompson", warmStart: true });
    expect(noLog.statusCode).toBe(400);
    expect(noLog.json().errors[0].path).toBe("warmStart");
    expect(registry.find("p")).toBeUndefined();
    expect(registry.find("w")).toBeUndefined();
  });
});
