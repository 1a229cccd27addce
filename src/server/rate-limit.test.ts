import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { openApiKeys } from "../app/api-keys.js";
import { createEngine, type Engine } from "../app/engine.js";
import type { ApiKeys } from "../core/api-key.js";
import { buildServer } from "./server.js";

let engine: Engine | undefined;
let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await close?.();
  await engine?.close();
});

async function serve(config: Record<string, unknown>, keys?: ApiKeys) {
  engine = await createEngine({ dataDir: ":memory:", logger: pino({ level: "silent" }), config });
  const app = await buildServer(engine, keys ? { keys } : {});
  close = () => app.close();
  return app;
}

const rank = { userId: "u", candidates: [{ id: "a" }, { id: "b" }] };

describe("per-key rate limits on the write routes", () => {
  it("answers 429 with Retry-After past the limit, per key name, and leaves reads alone", async () => {
    const keys = openApiKeys(":memory:");
    const shop = await keys.create("shop", "client");
    const other = await keys.create("other-shop", "client");
    const app = await serve({ rateLimit: { max: 3, timeWindow: "1m" } }, keys);
    const post = (key: string) =>
      app.inject({ method: "POST", url: "/v1/rank", payload: rank, headers: { "x-api-key": key } });
    for (let i = 0; i < 3; i++) expect((await post(shop)).statusCode).toBe(200);
    const limited = await post(shop);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toContain("application/problem+json");
    expect(limited.json()).toMatchObject({ status: 429, code: "RATE_LIMITED", title: expect.any(String) });
    expect(limited.json().detail).toContain('key "shop"');
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another key has its own budget; rotating keeps the name's budget (counted per name).
    expect((await post(other)).statusCode).toBe(200);
    expect((await post(await keys.rotate("shop"))).statusCode).toBe(429);
    // Reads are not limited.
    const admin = { authorization: `Bearer ${engine?.adminKey}` };
    for (let i = 0; i < 5; i++)
      expect((await app.inject({ url: "/v1/overview", headers: admin })).statusCode).toBe(200);
    await keys.close();
  });

  it("is off by default", async () => {
    const app = await serve({});
    const headers = { authorization: `Bearer ${engine?.adminKey}` };
    for (let i = 0; i < 120; i++) {
      const res = await app.inject({ method: "POST", url: "/v1/rank", payload: rank, headers });
      expect(res.statusCode).toBe(200);
    }
  });
});

describe('auth "none"', () => {
  it("opens every route without a key, and says so on whoami", async () => {
    const app = await serve({ auth: "none" });
    expect((await app.inject({ url: "/v1/overview" })).statusCode).toBe(200);
    expect((await app.inject({ method: "POST", url: "/v1/rank", payload: rank })).statusCode).toBe(200);
    const res = await app.inject({ method: "PUT", url: "/v1/policies/default", payload: { id: "uniform" } });
    expect(res.statusCode).toBe(200);
    expect((await app.inject({ url: "/v1/auth/whoami" })).json()).toMatchObject({ auth: "none", scope: "admin" });
  });
});
