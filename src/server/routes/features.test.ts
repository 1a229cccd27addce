import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { mkEvent } from "../../features/feature-test-events.js";
import { featuresConfig } from "../../features/features-config.js";
import { createMemoryFeatureStore } from "../../storage/memory/feature-store-memory.js";
import { featuresRoutes } from "./features.js";

describe("GET /v1/users/:userId/features", () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 12));
  const store = createMemoryFeatureStore(featuresConfig(), clock);
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    if (isLoopwiseError(err)) return reply.status(err.status).send({ code: err.code, errors: err.errors });
    return reply.status(500).send({ message: String(err) });
  });
  app.register(featuresRoutes({ store, clock }));

  it("returns aggregates, the named vector and timings", async () => {
    await store.apply([
      mkEvent("alice", "view", clock.now() - 5000, { itemId: "i9", category: "books", sessionId: "S1" }),
    ]);
    const res = await app.inject({ method: "GET", url: "/v1/users/alice/features" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect([body.userId, body.known, body.sessionId]).toEqual(["alice", true, "S1"]);
    expect(body.aggregates.last_category_0).toBe("books");
    expect(body.aggregates.secs_since_last_view).toBe(5);
    expect(body.vector.names).toHaveLength(body.vector.values.length);
    expect(body.vector.values[0]).toBe(1);
    expect(typeof body.timing.readMicros).toBe("number");
    expect(typeof body.timing.encodeMicros).toBe("number");
  });

  it("answers an unknown user with known=false", async () => {
    const body = (await app.inject({ method: "GET", url: "/v1/users/bob/features" })).json();
    expect([body.known, body.sessionId, body.aggregates.session_events]).toEqual([false, null, 0]);
  });
});
