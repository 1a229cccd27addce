import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { openApiKeys } from "../app/api-keys.js";
import { createEngine } from "../app/engine.js";
import { buildWorkerServer } from "./worker-server.js";

describe("a worker's HTTP face (role worker)", () => {
  const keys = openApiKeys(":memory:");
  afterAll(() => keys.close());

  it("keeps its probes open and /metrics behind a read key, and answers unknown paths 404", async () => {
    const engine = await createEngine({ dataDir: ":memory:", logger: pino({ level: "silent" }) });
    const app = await buildWorkerServer(engine, () => undefined, keys);
    try {
      const read = await keys.create("reader", "read");
      const client = await keys.create("app", "client");
      expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
      expect((await app.inject({ url: "/readyz" })).statusCode).toBe(503); // no duty runner yet
      const metrics = (headers: Record<string, string>) => app.inject({ url: "/metrics", headers });
      expect((await metrics({})).statusCode).toBe(401);
      expect((await metrics({ authorization: "Bearer not-a-key" })).statusCode).toBe(401);
      expect((await metrics({ authorization: `Bearer ${client}` })).statusCode).toBe(403);
      const scraped = await metrics({ authorization: `Bearer ${read}` });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.body).toMatch(/^# HELP /m);
      expect((await app.inject({ url: "/v1/rank", method: "POST", payload: {} })).statusCode).toBe(404);
    } finally {
      await app.close();
      await engine.close();
    }
  });
});
