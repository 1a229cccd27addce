import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock } from "../core/clock.js";
import type { openApiDocument } from "./openapi.js";
import { createResponseCheck } from "./openapi-validate.js";
import { PERSONALIZER_API_VERSIONS, PERSONALIZER_ROUTES } from "./routes/personalizer.js";
import { buildServer } from "./server.js";

let engine: Engine;
let app: FastifyInstance;
type Doc = ReturnType<typeof openApiDocument>;
let doc: Doc;

beforeAll(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
    logger: pino({ level: "silent" }),
  });
  app = await buildServer(engine);
  doc = (await app.inject({ url: "/v1/openapi.json", headers: auth() })).json();
});
afterAll(async () => {
  await app?.close();
  await engine?.close();
});

const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });

describe("the OpenAPI document", () => {
  it("compiles: every component schema and every parameter schema is valid JSON Schema 2020-12", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const schemas = Object.entries(doc.components.schemas as Record<string, object>);
    expect(schemas.length).toBeGreaterThan(40);
    for (const [name, schema] of schemas) expect(() => ajv.compile(schema), name).not.toThrow();
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops) as { parameters?: { schema: object }[] }[]) {
        for (const p of op.parameters ?? []) expect(() => ajv.compile(p.schema)).not.toThrow();
      }
    }
  });

  it("documents every route fastify registers, and nothing it does not", () => {
    const served = new Set((app as unknown as { loopwiseRoutes: string[] }).loopwiseRoutes);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
      ),
    );
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
    // The Personalizer route list that the route-scope table reads (all "client" scope) is what is served.
    const personalizer = [...served].filter((r) => r.includes(" /personalizer/"));
    const listed = PERSONALIZER_API_VERSIONS.flatMap((v) =>
      PERSONALIZER_ROUTES.map((r) => r.replace(" ", ` ${v.prefix}`)),
    );
    expect(personalizer.sort()).toEqual(listed.sort());
  });

  it("gives every operation a unique operationId, a success status and its path and query parameters", () => {
    const ops = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ path, method, ...(op as Record<string, unknown>) })),
    ) as {
      path: string;
      method: string;
      operationId: string;
      responses: object;
      parameters?: { name: string; in: string }[];
    }[];
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of ops) {
      expect(
        Object.keys(op.responses).some((s) => s.startsWith("2")),
        op.operationId,
      ).toBe(true);
      const inPath = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters?.filter((p) => p.in === "path").map((p) => p.name) ?? []).toEqual(inPath);
    }
    const byId = Object.fromEntries(ops.map((o) => [o.operationId, o]));
    expect(Object.keys(byId.startRollout?.responses ?? {})).toContain("201");
    expect(Object.keys(byId.startEvaluation?.responses ?? {})).toContain("202");
    expect(Object.keys(byId.personalizerRank?.responses ?? {})).toContain("201");
    expect(Object.keys(byId.personalizerReward?.responses ?? {})).toContain("204");
    expect(byId.getRecommendations?.parameters?.filter((p) => p.in === "query").map((p) => p.name)).toEqual([
      "k",
      "exclude",
    ]);
  });

  it("describes what the server really answers (in-process, through the loop)", async () => {
    const check = createResponseCheck(doc);
    const statuses: number[] = [];
    const call = async (method: "GET" | "POST" | "PUT", url: string, payload?: object) => {
      const res = await app.inject({ method, url, headers: auth(), ...(payload ? { payload } : {}) });
      const body =
        res.body === "" || !String(res.headers["content-type"] ?? "").includes("json") ? undefined : res.json();
      check(method, url, res.statusCode, body);
      statuses.push(res.statusCode);
      return { status: res.statusCode, body };
    };
    await call("POST", "/v1/items", { items: [{ id: "a", category: "x" }, { id: "b" }, { id: "" }] });
    await call("POST", "/v1/events", { events: [{ type: "view", userId: "u", itemId: "a" }, { type: "?" }] });
    const ranked = await call("POST", "/v1/rank", { userId: "u", candidates: [{ id: "a" }, { id: "b" }], slots: 2 });
    const id = ranked.body.decisionId;
    await call("POST", `/v1/decisions/${id}/reward`, { value: 1, itemId: "b" });
    await call("POST", `/v1/decisions/${id}/activate`);
    await call("GET", `/v1/decisions/${id}`);
    await call("GET", "/v1/decisions/nope");
    await call("POST", "/v1/rank", { userId: "" });
    await call("GET", "/v1/users/u/features");
    await call("GET", "/v1/policies");
    await call("GET", "/v1/policies/default");
    await call("POST", "/v1/policies", { id: "eg", type: "epsilon-greedy" });
    await call("POST", "/v1/policies", { id: "eg", type: "epsilon-greedy" });
    await call("PUT", "/v1/policies/default", { id: "default" });
    await call("POST", "/v1/policies/default/distribution", { candidates: [{ id: "a" }, { id: "b" }] });
    const job = await call("POST", "/v1/evaluations", { logs: "loopwise:", targets: ["uniform"] });
    await call("GET", `/v1/evaluations/${job.body.id}`);
    await call("GET", "/v1/overview");
    await call("GET", "/healthz");
    await call("POST", "/v1/rollouts", { candidate: "eg", incumbent: "default" });
    await call("GET", "/v1/rollouts");
    await call("POST", "/personalizer/v1.0/rank", { actions: [{ id: "a" }, { id: "b" }], eventId: "pz-1" });
    await call("POST", "/personalizer/v1.0/events/pz-1/reward", { value: 1 });
    await call("POST", "/personalizer/v1.0/rank", { actions: [] });
    await call("GET", "/personalizer/v1.1-preview.3/configurations/service");
    // Successes and errors both exercised: 200 201 202 204, 400 404.
    expect(statuses).toEqual([
      200, 200, 200, 200, 200, 200, 404, 400, 200, 200, 200, 201, 200, 200, 200, 202, 200, 200, 200, 201, 200, 201, 204,
      400, 200,
    ]);
  });
});
