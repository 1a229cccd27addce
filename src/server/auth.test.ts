import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiKeys } from "../app/api-keys.js";
import { createEngine, type Engine } from "../app/engine.js";
import { grants, type Requirement, SCOPES, type Scope } from "../core/api-key.js";
import { ROUTE_SCOPES, requiredScope, requiredScopeOfPath } from "./route-scopes.js";
import { buildServer } from "./server.js";

let engine: Engine;
let app: FastifyInstance;
const keys = openApiKeys(":memory:");
const secrets = {} as Record<Scope, string>;

beforeAll(async () => {
  engine = await createEngine({ dataDir: ":memory:", logger: pino({ level: "silent" }) });
  for (const scope of SCOPES) secrets[scope] = await keys.create(`test-${scope}`, scope);
  app = await buildServer(engine, { keys });
});
afterAll(async () => {
  await app.close();
  await engine.close();
  await keys.close();
});

const served = () => (app as unknown as { loopwiseRoutes: string[] }).loopwiseRoutes;

function call(route: string, headers: Record<string, string> = {}) {
  const [method, pattern] = route.split(" ") as [string, string];
  const url = pattern.replace(/:(\w+)/g, "x-$1");
  const withBody = method === "POST" || method === "PUT";
  return app.inject({
    method: method as "GET",
    url,
    headers,
    ...(withBody ? { payload: {} } : {}),
  });
}

const bearer = (scope: Scope) => ({ authorization: `Bearer ${secrets[scope]}` });

describe("every route the server registers, by the scope table", () => {
  it("answers 401 without a key, 403 with a key of another scope, and neither with the right one", async () => {
    const routes = served();
    expect(routes.length).toBeGreaterThan(30);
    for (const route of routes) {
      const [method, pattern] = route.split(" ") as [string, string];
      const need = requiredScope(method, pattern);
      const none = await call(route);
      if (need === "public") {
        expect(none.statusCode, `${route} is public`).not.toBe(401);
        continue;
      }
      expect(none.statusCode, `${route} without a key`).toBe(401);
      expect(none.headers["www-authenticate"]).toContain("Bearer");
      // The Personalizer-compatible routes answer errors in Personalizer's shape (its clients parse it).
      const personalizer = pattern.startsWith("/personalizer/");
      if (personalizer) {
        expect(none.json(), route).toMatchObject({ error: { innerError: { code: "UNAUTHORIZED" } } });
      } else {
        expect(none.headers["content-type"], route).toContain("application/problem+json");
        expect(none.json(), route).toMatchObject({ status: 401, code: "UNAUTHORIZED", type: expect.any(String) });
      }
      for (const scope of SCOPES) {
        const res = await call(route, bearer(scope));
        if (grants(scope, need)) {
          expect([401, 403], `${route} with a ${scope} key`).not.toContain(res.statusCode);
        } else {
          expect(res.statusCode, `${route} with a ${scope} key`).toBe(403);
          if (personalizer) {
            expect(res.json(), route).toMatchObject({ error: { innerError: { code: "FORBIDDEN" } } });
            expect(res.json().error.message).toContain(`has scope ${scope}`);
          } else {
            expect(res.json(), route).toMatchObject({ status: 403, code: "FORBIDDEN", title: expect.any(String) });
            expect(res.json().detail).toContain(`has scope ${scope}`);
          }
        }
      }
    }
  }, 30_000);

  it("has an entry for every registered route, and no entry for a route that does not exist", () => {
    const routes = new Set(served());
    const prefixes = Object.keys(ROUTE_SCOPES)
      .filter((r) => r.endsWith("*"))
      .map((r) => r.slice(0, -1));
    const unlisted = [...routes].filter(
      (r) => !Object.hasOwn(ROUTE_SCOPES, r) && !prefixes.some((p) => r.startsWith(p)),
    );
    expect(unlisted, "routes that fall back to admin (deny by default)").toEqual([]);
    const stale = Object.keys(ROUTE_SCOPES).filter((r) => !r.endsWith("*") && !routes.has(r));
    expect(stale).toEqual([]);
  });

  it("needs admin for a route missing from the table, and any key for an unknown path", async () => {
    expect(requiredScope("DELETE", "/v1/something-new")).toBe("admin");
    expect(requiredScope("POST", "/personalizer/v1.0/events/:eventId/reward")).toBe("client");
    expect(requiredScope("GET", "/personalizer/v1.0/configurations/service")).toBe("read");
    expect(requiredScope("POST", "/personalizer/v1.1-preview.3/multislot/rank")).toBe("client");
    expect(requiredScope("HEAD", "/healthz")).toBe("public");
    const unknown = await app.inject({ url: "/v1/nowhere" });
    expect(unknown.statusCode).toBe(401);
    const known = await app.inject({ url: "/v1/nowhere", headers: bearer("client") });
    expect(known.json().code).toBe("NOT_FOUND");
  });
});

describe("presenting a key", () => {
  it("accepts Bearer, Ocp-Apim-Subscription-Key and x-api-key", async () => {
    const body = { userId: "u1", candidates: [{ id: "a" }, { id: "b" }] };
    for (const headers of [
      { authorization: `Bearer ${secrets.client}` },
      { authorization: `bearer   ${secrets.client}` },
      { "ocp-apim-subscription-key": secrets.client },
      { "x-api-key": secrets.client },
    ]) {
      const res = await app.inject({ method: "POST", url: "/v1/rank", payload: body, headers });
      expect(res.statusCode, JSON.stringify(Object.keys(headers))).toBe(200);
    }
  });

  it("lets only an admin key choose the policy of a rank request", async () => {
    const body = { userId: "u1", candidates: [{ id: "a" }], policyId: "uniform" };
    const asClient = await app.inject({ method: "POST", url: "/v1/rank", payload: body, headers: bearer("client") });
    expect(asClient.statusCode).toBe(403);
    expect(asClient.json()).toMatchObject({ code: "FORBIDDEN", errors: [{ path: "policyId" }] });
    const asAdmin = await app.inject({ method: "POST", url: "/v1/rank", payload: body, headers: bearer("admin") });
    expect(asAdmin.statusCode).toBe(200);
    expect(asAdmin.json().policy.id).toBe("uniform");
  });

  it("refuses a wrong, truncated or other-scheme key with 401", async () => {
    for (const headers of [
      { authorization: `Bearer ${secrets.client.slice(0, -1)}` },
      { authorization: `Basic ${secrets.client}` },
      { authorization: secrets.client },
      { "x-api-key": `${secrets.client}x` },
      { "ocp-apim-subscription-key": "" },
    ]) {
      const res = await app.inject({ url: "/v1/overview", headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
    }
  });

  it("says which key a request holds on /v1/auth/whoami", async () => {
    expect((await app.inject({ url: "/v1/auth/whoami", headers: bearer("read") })).json()).toEqual({
      auth: "keys",
      name: "test-read",
      scope: "read",
    });
    expect((await app.inject({ url: "/v1/auth/whoami" })).json()).toMatchObject({ auth: "keys", scope: null });
    expect((await app.inject({ url: "/v1/auth/whoami", headers: { "x-api-key": "nope" } })).statusCode).toBe(401);
  });

  it("keeps engine.adminKey working as an admin key", async () => {
    const res = await app.inject({
      method: "PUT",
      url: "/v1/policies/default",
      payload: { id: "uniform" },
      headers: { authorization: `Bearer ${engine.adminKey}` },
    });
    expect(res.statusCode).toBe(200);
  });

  it("sees keys created, rotated and revoked on the next request (another process: test/e2e/keys-cli.test.ts)", async () => {
    const secret = await keys.create("late", "read");
    expect((await app.inject({ url: "/v1/overview", headers: { "x-api-key": secret } })).statusCode).toBe(200);
    const next = await keys.rotate("late");
    expect((await app.inject({ url: "/v1/overview", headers: { "x-api-key": secret } })).statusCode).toBe(401);
    expect((await app.inject({ url: "/v1/overview", headers: { "x-api-key": next } })).statusCode).toBe(200);
    await keys.revoke("late");
    expect((await app.inject({ url: "/v1/overview", headers: { "x-api-key": next } })).statusCode).toBe(401);
  });
});

describe("the OpenAPI document", () => {
  it("declares the three ways to send a key and each operation's scope from the scope table", async () => {
    const doc = (await app.inject({ url: "/v1/openapi.json" })).json();
    expect(Object.keys(doc.components.securitySchemes)).toEqual(["bearer", "subscriptionKey", "apiKey"]);
    expect(doc.components.securitySchemes.subscriptionKey).toMatchObject({
      in: "header",
      name: "Ocp-Apim-Subscription-Key",
    });
    for (const [path, methods] of Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        const scope: Requirement = requiredScopeOfPath(method, path);
        expect(op["x-required-scope"], `${method} ${path}`).toBe(scope);
        expect(op.security, `${method} ${path}`).toEqual(
          scope === "public" ? [] : [{ bearer: [] }, { subscriptionKey: [] }, { apiKey: [] }],
        );
      }
    }
    expect(doc.paths["/v1/rank"].post["x-required-scope"]).toBe("client");
    expect(doc.paths["/metrics"].get["x-required-scope"]).toBe("read");
  });
});
