import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock, MINUTE } from "../core/clock.js";
import { buildServer } from "./server.js";

let engine: Engine;
let app: FastifyInstance;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  engine = await createEngine({
    dataDir: ":memory:",
    clock,
    logger: pino({ level: "silent" }),
    config: { bodyLimitBytes: 64 * 1024 },
  });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

/** The engine's admin key: every route but /healthz, /v1/openapi.json and the dashboard page needs a key. */
const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });
const post = (url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: payload as object, headers: auth() });

describe("errors are RFC 9457 problem details with stable codes", () => {
  it("names every bad field of a rank request", async () => {
    const res = await post("/v1/rank", { userId: "", slots: 0, candidates: [{ id: "a" }, { id: "a" }], surprise: 1 });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    const body = res.json();
    expect(body).toMatchObject({ status: 400, code: "VALIDATION_FAILED", title: "Request validation failed" });
    const paths = body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["userId", "slots"]));
    expect(body.errors.some((e: { message: string }) => /surprise/.test(e.message))).toBe(true);
  });

  it("rejects duplicate candidate ids, bad JSON, oversize bodies, unknown routes and unknown decisions", async () => {
    const dup = await post("/v1/rank", { userId: "u", candidates: [{ id: "a" }, { id: "a" }] });
    expect(dup.json().errors[0]).toEqual({
      path: "candidates[1].id",
      message: 'duplicates an earlier candidate id "a"',
    });
    const bad = await app.inject({
      method: "POST",
      url: "/v1/rank",
      payload: "{nope",
      headers: { "content-type": "application/json", ...auth() },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe("INVALID_JSON");
    const big = await post("/v1/events", {
      events: [{ type: "view", userId: "u", context: { blob: "x".repeat(70 * 1024) } }],
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe("PAYLOAD_TOO_LARGE");
    expect((await app.inject({ method: "GET", url: "/v1/nothing", headers: auth() })).json().code).toBe("NOT_FOUND");
    const missing = await post("/v1/decisions/dec_missing/reward", { value: 1 });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("DECISION_NOT_FOUND");
    expect((await post("/v1/decisions/dec_missing/activate", {})).statusCode).toBe(404);
    const { decisionId } = (
      await post("/v1/rank", { userId: "u", candidates: [{ id: "a" }, { id: "b" }], slots: 1 })
    ).json();
    const notShown = await post(`/v1/decisions/${decisionId}/reward`, { value: 1, itemId: "zzz" });
    expect(notShown.statusCode).toBe(400);
    expect(notShown.json().errors[0].path).toBe("itemId");
    const badReward = await post(`/v1/decisions/${decisionId}/reward`, { value: "one", extra: true });
    expect(badReward.json().errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(["value"]));
  });

  it("answers a batch per item, and 400 only when nothing in it was usable", async () => {
    const now = clock.now();
    const res = await post("/v1/events", {
      events: [
        { type: "view", userId: "u1", itemId: "a", eventId: "e1" },
        { type: "view", userId: "u1", timestamp: now + 3_600_000 },
        { type: "purchase", userId: "u1" },
        { type: "view", userId: "u1", timestamp: "yesterday" },
      ],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accepted: 1, rejected: 3, duplicates: 0 });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual([
      "accepted",
      "rejected",
      "rejected",
      "rejected",
    ]);
    expect(body.results[1].errors[0].path).toBe("events[1].timestamp");
    expect(body.results[2].errors[0]).toEqual({ path: "events[2].itemId", message: "is required for purchase events" });
    const again = await post("/v1/events", {
      events: [
        { type: "view", userId: "u1", itemId: "a", eventId: "e1" },
        { type: "view", userId: "u1", itemId: "b", eventId: "e2" },
        { type: "view", userId: "u1", itemId: "b", eventId: "e2" },
      ],
    });
    expect(again.json()).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(again.json().results.map((r: { status: string }) => r.status)).toEqual([
      "duplicate",
      "accepted",
      "duplicate",
    ]);
    const none = await post("/v1/events", { events: [{ type: "view" }] });
    expect(none.statusCode).toBe(400);
    expect(none.json().errors[0].path).toBe("events[0].userId");
    expect((await post("/v1/events", { events: [] })).json().errors[0].path).toBe("events");
  });
});

describe("the loop over HTTP", () => {
  it("ranks with exact uniform propensities and logs the complete decision", async () => {
    const res = await post("/v1/rank", {
      userId: "u1",
      sessionId: "s1",
      context: { device: "mobile" },
      candidates: [{ id: "a", features: { price: 3 } }, { id: "b" }, { id: "c" }],
      slots: 2,
      policyId: "uniform",
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.policy).toEqual({ id: "uniform", type: "uniform", version: 1 });
    expect(body.ranking.map((r: { probability: number }) => r.probability)).toEqual([1 / 3, 1 / 2]);
    const logged = (
      await app.inject({ method: "GET", url: `/v1/decisions/${body.decisionId}`, headers: auth() })
    ).json();
    expect(logged).toMatchObject({
      userId: "u1",
      sessionId: "s1",
      context: { device: "mobile" },
      baselineItemId: "a",
      activated: true,
    });
    expect(logged.candidates.map((c: { id: string }) => c.id)).toEqual(["a", "b", "c"]);
    expect(logged.slots[0].probabilities).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(logged.slots[1].probabilities.filter((p: number) => p === 0)).toHaveLength(1);
    expect(logged.join.status).toBe("pending");
  });

  it("serves catalog candidates when none are sent, and says when nothing can be ranked", async () => {
    const empty = await post("/v1/rank", { userId: "u1" });
    expect(empty.statusCode).toBe(422);
    expect(empty.json().code).toBe("NO_CANDIDATES");
    await post("/v1/items", { items: [{ id: "x", category: "shoes" }, { id: "y", available: false }, { id: "z" }] });
    const res = (await post("/v1/rank", { userId: "u1", slots: 5 })).json();
    expect(res.candidateSource).toBe("catalog");
    expect(res.ranking.map((r: { id: string }) => r.id).sort()).toEqual(["x", "z"]);
  });

  it("joins click and purchase events that carry a decisionId as rewards, by the configured mapping", async () => {
    const { decisionId, ranking } = (
      await post("/v1/rank", { userId: "u1", candidates: [{ id: "a" }, { id: "b" }], slots: 2 })
    ).json();
    const [first, second] = ranking.map((r: { id: string }) => r.id);
    const ingest = await post("/v1/events", {
      events: [
        { type: "click", userId: "u1", itemId: second, decisionId },
        { type: "purchase", userId: "u1", itemId: second, decisionId, value: 42.5 },
      ],
    });
    expect(ingest.json().rewardsJoined).toBe(2);
    clock.advance(11 * MINUTE);
    const logged = (await app.inject({ method: "GET", url: `/v1/decisions/${decisionId}`, headers: auth() })).json();
    expect(logged.join.status).toBe("joined");
    // earliest aggregation: the click (first by time) is the slot's reward; the other slot defaulted to 0.
    const bySlot = Object.fromEntries(
      logged.join.slots.map((s: { itemId: string; reward: number }) => [s.itemId, s.reward]),
    );
    expect(bySlot).toEqual({ [first]: 0, [second]: 1 });
  });

  it("ignores rewards of deferred decisions until activated, and flags late ones", async () => {
    const { decisionId, activated } = (
      await post("/v1/rank", { userId: "u1", candidates: [{ id: "a" }], deferActivation: true })
    ).json();
    expect(activated).toBe(false);
    expect((await post(`/v1/decisions/${decisionId}/reward`, { value: 1, rewardId: "r0" })).json().status).toBe(
      "not_activated",
    );
    clock.advance(MINUTE);
    expect((await post(`/v1/decisions/${decisionId}/activate`, {})).json()).toEqual({ decisionId, activated: true });
    expect((await post(`/v1/decisions/${decisionId}/reward`, { value: 1, rewardId: "r1" })).json().status).toBe(
      "accepted",
    );
    expect((await post(`/v1/decisions/${decisionId}/reward`, { value: 1, rewardId: "r1" })).json().status).toBe(
      "duplicate",
    );
    clock.advance(10 * MINUTE + 1);
    expect((await post(`/v1/decisions/${decisionId}/reward`, { value: 5, rewardId: "r2" })).json().status).toBe("late");
    await engine.tick(); // the window closed: the decision is no longer in memory, the log answers
    expect(
      (await post(`/v1/decisions/${decisionId}/reward`, { value: 1, itemId: "a", rewardId: "r3" })).json().status,
    ).toBe("late");
    expect((await post(`/v1/decisions/${decisionId}/reward`, { value: 1, itemId: "zzz" })).statusCode).toBe(400);
    const logged = (await app.inject({ method: "GET", url: `/v1/decisions/${decisionId}`, headers: auth() })).json();
    expect(logged.join).toMatchObject({ status: "joined", total: 1, lateRewards: 2 });
  });

  it("retrying a rank with the same decisionId returns the same decision", async () => {
    const req = { userId: "u1", candidates: [{ id: "a" }, { id: "b" }, { id: "c" }], decisionId: "dec-client-1" };
    const first = (await post("/v1/rank", req)).json();
    const second = (await post("/v1/rank", req)).json();
    expect(second).toEqual(first);
  });

  it("exposes health, Prometheus metrics and the OpenAPI document", async () => {
    await post("/v1/rank", { userId: "u1", candidates: [{ id: "a" }] });
    expect((await post("/v1/rank", { userId: "u1", candidates: [] })).statusCode).toBe(400);
    expect((await app.inject({ url: "/healthz" })).json().status).toBe("ok");
    expect((await app.inject({ method: "HEAD", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/v1/nowhere", headers: auth() })).statusCode).toBe(404);
    const metrics = (await app.inject({ url: "/metrics", headers: auth() })).body;
    expect(metrics).toMatch(/loopwise_decisions_total\{policy="default",source="request"\} 1/);
    // Each route counts under its pattern, method and status; a request no route matched under "unmatched".
    const counted = (route: string, method: string, status: number) =>
      new RegExp(`loopwise_http_requests_total\\{route="${route}",method="${method}",status="${status}"\\} 1\n`);
    expect(metrics).toMatch(counted("/v1/rank", "POST", 200));
    expect(metrics).toMatch(counted("/v1/rank", "POST", 400));
    expect(metrics).toMatch(counted("/healthz", "HEAD", 200));
    expect(metrics).toMatch(counted("unmatched", "GET", 404));
    expect(metrics).toMatch(/loopwise_http_request_duration_seconds_count\{route="\/v1\/rank",method="POST"\} 2/);
    const doc = (await app.inject({ url: "/v1/openapi.json" })).json();
    const rankBody = doc.paths["/v1/rank"].post.requestBody.content["application/json"].schema.$ref.split("/").pop();
    expect(doc.components.schemas[rankBody].properties.userId).toBeDefined();
    // Every /v1 route the server serves is documented.
    const served = (app as unknown as { loopwiseRoutes: string[] }).loopwiseRoutes.filter((r) => r.includes(" /v1/"));
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
    );
    const missing = served.filter((r) => r !== "GET /v1/openapi.json" && !documented.includes(r));
    expect(served.length).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });
});
