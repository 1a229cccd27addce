import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import { buildServer } from "../server/server.js";
import type { Engine } from "./engine.js";
import { createTestEngine } from "./test-engine.js";

/**
 * Rewards are judged on the server's arrival time (decisions/reward-reducer.ts): the client's timestamp is a
 * validated field, `receivedAt` decides lateness and order, and the learner learns what the log's join says.
 */
let engine: Engine;
let app: FastifyInstance;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  engine = await createTestEngine({ clock });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });
const post = (url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: payload as object, headers: auth() });
const logged = async (id: string) =>
  (await app.inject({ method: "GET", url: `/v1/decisions/${id}`, headers: auth() })).json();

async function rank(): Promise<string> {
  return (await post("/v1/rank", { userId: "u1", candidates: [{ id: "a" }, { id: "b" }], slots: 1 })).json().decisionId;
}

describe("reward timestamps are validated, never trusted for lateness", () => {
  it("answers 400 naming `timestamp` for a time before the decision, too far past or too far ahead", async () => {
    const id = await rank();
    const now = clock.now();
    const { maxPast, maxFuture } = engine.config.rewards;
    const cases = [
      { timestamp: now - 1, says: "before the decision" },
      { timestamp: new Date(now + maxFuture + 1).toISOString(), says: "" },
    ];
    for (const c of cases) {
      const res = await post(`/v1/decisions/${id}/reward`, { value: 1, timestamp: c.timestamp });
      expect(res.statusCode).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      const body = res.json();
      expect(body).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
      expect(body.errors.map((e: { path: string }) => e.path)).toEqual(["timestamp"]);
      expect(body.errors[0].message).toContain(c.says);
    }
    // A decision older than maxPast: a reward dated at its time is refused as too old.
    clock.advance(maxPast + MINUTE);
    const old = await post(`/v1/decisions/${id}/reward`, { value: 1, timestamp: now });
    expect(old.statusCode).toBe(400);
    expect(old.json().errors[0].path).toBe("timestamp");
    // Nothing was written by the refused requests.
    expect((await engine.parts.decisions.get(id))?.rewards).toEqual([]);
  });

  it("a reward arriving after the window is late even when its client time is inside it, and counts nowhere", async () => {
    const id = await rank();
    const decidedAt = clock.now();
    clock.advance(10 * MINUTE); // the window is [decidedAt, decidedAt + 10 min): now is its end
    const res = await post(`/v1/decisions/${id}/reward`, { value: 1, timestamp: decidedAt + 1000, rewardId: "r" });
    expect(res.json().status).toBe("late");
    const stored = (await engine.parts.decisions.get(id))?.rewards[0];
    expect(stored).toMatchObject({ timestamp: decidedAt + 1000, receivedAt: decidedAt + 10 * MINUTE, late: true });
    await engine.tick();
    expect((await logged(id)).join).toMatchObject({ status: "defaulted", total: 0, lateRewards: 1 });
  });

  it("earliest is the first reward to arrive, whatever the client timestamps say", async () => {
    const id = await rank();
    const t0 = clock.now();
    clock.advance(1000);
    expect((await post(`/v1/decisions/${id}/reward`, { value: 3, timestamp: t0 + 900 })).json().status).toBe(
      "accepted",
    );
    clock.advance(1000);
    expect((await post(`/v1/decisions/${id}/reward`, { value: 7, timestamp: t0 + 1 })).json().status).toBe("accepted");
    clock.advance(10 * MINUTE);
    await engine.tick();
    expect((await logged(id)).join.slots[0]).toMatchObject({ status: "joined", reward: 3, rewardCount: 2 });
  });
});

describe("the learner and the log agree when a window closes while a reward is being written", () => {
  it("a reward received inside the window is learned, not the default, even if the close runs first", async () => {
    const id = await rank();
    const policyId = (await logged(id)).policy.id as string;
    const learned: number[] = [];
    const policy = engine.parts.policies.get(policyId)!;
    const original = policy.update.bind(policy);
    policy.update = (f) => {
      learned.push(f.reward);
      original(f);
    };
    clock.advance(10 * MINUTE - 1); // the last millisecond of the window
    const writing = engine.reward(id, { value: 1 }); // received now; its write is in flight
    clock.advance(1);
    await engine.tick(); // the window's end passed: without the hold, the default (0) would be learned here
    expect((await writing).status).toBe("accepted");
    await engine.tick();
    expect(learned).toEqual([1]);
    expect(engine.parts.learning.size).toBe(0);
    expect((await logged(id)).join.slots[0]).toMatchObject({ status: "joined", reward: 1 });
  });
});
