import fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { runSimulation } from "../driver/run-simulation.js";
import type { SimRankBody } from "../target.js";
import { TargetError } from "../target.js";
import { resolveScenario } from "../world/scenarios.js";
import { fakeRankAnswer } from "./fake-rank-answer.js";
import { assertLoopback, createHttpTarget } from "./http-target.js";

/** A stand-in server speaking the v1 shapes: ranks the first candidates, rejects events of type "bad". */
async function fakeServer(): Promise<{ app: FastifyInstance; url: string; seen: { auth: string[] } }> {
  const app = fastify();
  const seen = { auth: [] as string[] };
  app.post("/v1/items", async (req) => ({
    accepted: (req.body as { items: unknown[] }).items.length,
    rejected: 0,
    results: [],
  }));
  app.post("/v1/events", async (req, reply) => {
    seen.auth.push(String(req.headers.authorization));
    const events = (req.body as { events: { type: string }[] }).events;
    if (events.some((e) => e.type === "bad")) {
      return reply
        .code(400)
        .type("application/problem+json")
        .send({ code: "VALIDATION_FAILED", detail: "events[0].type: bad" });
    }
    return { accepted: events.length, duplicates: 0, rejected: 0, rewardsJoined: 0, results: [] };
  });
  app.post("/v1/rank", async (req) => {
    const b = req.body as SimRankBody;
    return fakeRankAnswer(b, b.decisionId ?? "d1");
  });
  app.post("/v1/rollouts", async (req) => {
    seen.auth.push(String(req.headers.authorization));
    return { id: "ro1", status: "running", stageIndex: 0 };
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url, seen };
}

describe("HTTP target", () => {
  let server: Awaited<ReturnType<typeof fakeServer>>;
  beforeAll(async () => {
    server = await fakeServer();
  });
  afterAll(async () => {
    await server.app.close();
  });

  it("only aims at loopback addresses", () => {
    expect(assertLoopback("http://127.0.0.1:8080").port).toBe("8080");
    expect(assertLoopback("http://localhost:1").hostname).toBe("localhost");
    expect(assertLoopback("http://[::1]:1").hostname).toBe("[::1]");
    for (const bad of ["http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1", "nope"]) {
      expect(() => assertLoopback(bad)).toThrow();
    }
  });

  it("maps problem responses to TargetError with status and code, and sends the key on every call", async () => {
    const target = createHttpTarget({ url: server.url, adminKey: "k".repeat(20) });
    try {
      await target.ingestEvents({ events: [{ type: "bad", userId: "u" }] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TargetError);
      expect([(e as TargetError).status, (e as TargetError).code]).toEqual([400, "VALIDATION_FAILED"]);
    }
    await target.startRollout?.({ candidate: "a", incumbent: "b" });
    expect(server.seen.auth).toEqual([`Bearer ${"k".repeat(20)}`, `Bearer ${"k".repeat(20)}`]);
    await target.close();
  });

  it("reports an unreachable server as a network error, not a crash", async () => {
    const target = createHttpTarget({ url: "http://127.0.0.1:9", timeoutMs: 2000 });
    await expect(target.rank({ userId: "u" })).rejects.toBeInstanceOf(TargetError);
    await target.close();
  });

  it("drives a server in real time and reports what it saw", async () => {
    const scenario = resolveScenario("default", {
      sessions: {
        meanPages: 2,
        thinkTimeSeconds: 0.01,
        clickDelaySeconds: 0.005,
        cartDelaySeconds: 0.005,
        purchaseDelaySeconds: 0.005,
      },
    });
    const target = createHttpTarget({ url: server.url });
    const report = await runSimulation({
      scenario,
      target,
      mode: "realtime",
      clock: systemClock,
      durationMs: 400,
      rate: 30,
      drainMs: 3000,
    });
    await target.close();
    expect(report.target).toBe("http");
    expect(report.requests.errors).toBe(0);
    expect(report.requests.byRoute.rank!.count).toBeGreaterThan(0);
    expect(report.requests.byRoute.rank!.latencyMs.p50).toBeGreaterThan(0);
    expect(report.policies[0]!.decisions).toBe(report.requests.byRoute.rank!.count);
  });
});
