import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock, MINUTE } from "../core/clock.js";
import { buildServer } from "./server.js";

let engine: Engine;
let app: FastifyInstance;
let clock: ManualClock;
const adminKey = "test-admin-key-0123456789";
const auth = { authorization: `Bearer ${adminKey}` };
const candidates = [{ id: "good" }, { id: "meh" }, { id: "bad" }];

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const config = { adminKey, rewards: { window: "1m" } };
  engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }), config });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

/** `n` decisions served by `uniform`, one slot each; users click "good" whenever it is shown. */
async function logUniformTraffic(n: number): Promise<number> {
  let clicks = 0;
  for (let i = 0; i < n; i++) {
    const res = await engine.rank({ userId: `u${i}`, candidates, slots: 1, policyId: "uniform" });
    if (res.ranking[0]?.id === "good") {
      clicks++;
      await engine.reward(res.decisionId, { value: 1 });
    }
    clock.advance(1000);
  }
  return clicks;
}

const register = (payload: Record<string, unknown>) =>
  app.inject({ method: "POST", url: "/v1/policies", headers: auth, payload });

/**
 * A candidate registered with `warmStart` learns from the decision log before anyone can be served by it
 * (app/warm-start.ts), so its rollout does not start cold against an incumbent trained on all traffic.
 */
describe("POST /v1/policies with warmStart", () => {
  it("trains the new policy on every closed decision of the log, in order, before it serves", async () => {
    await logUniformTraffic(300);
    clock.advance(2 * MINUTE); // every window closed: unclicked decisions count with the default reward 0
    await logUniformTraffic(20); // still inside their window: left out
    const spec = { type: "thompson", params: { model: "disjoint" }, features: { profile: "none" } };
    const res = await register({ id: "warm", ...spec, warmStart: true });
    expect(res.statusCode).toBe(201);
    const { warmStart } = res.json();
    expect(warmStart).toMatchObject({ decisions: 300, rounds: 300, from: null, to: clock.now() - MINUTE });
    const warm = engine.parts.policies.find("warm");
    expect(warm?.updates).toBe(300);
    const cold = await register({ id: "cold", ...spec });
    expect(cold.json().warmStart).toBeUndefined();
    const input = { context: {}, candidates };
    expect(warm?.distribution(input)[0]).toBeGreaterThan(0.9);
    expect(engine.parts.policies.find("cold")?.distribution(input)[0]).toBeLessThan(0.5);
  });

  it("takes a range, and says what is wrong with a bad one", async () => {
    const start = clock.now();
    await logUniformTraffic(100);
    clock.advance(2 * MINUTE);
    const res = await register({ id: "half", type: "epsilon-greedy", warmStart: { from: start + 50_000 } });
    expect(res.json().warmStart).toMatchObject({ decisions: 50, rounds: 50 });
    const bad = await register({ id: "x", type: "uniform", warmStart: { from: "yesterday" } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe("warmStart");
    expect(engine.parts.policies.find("x")).toBeUndefined();
  });
});
