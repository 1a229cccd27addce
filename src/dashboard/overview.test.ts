import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock, MINUTE } from "../core/clock.js";
import { buildServer } from "../server/server.js";

let engine: Engine;
let app: Awaited<ReturnType<typeof buildServer>>;
const clock = new ManualClock(Date.UTC(2026, 2, 1, 9));

beforeAll(async () => {
  engine = await createEngine({ dataDir: ":memory:", clock, config: { logLevel: "silent" } });
  app = await buildServer(engine);
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });
const post = (url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: payload as object, headers: auth() });

describe("dashboard routes", () => {
  it("serves the page and its script with a strict content security policy", async () => {
    for (const url of ["/", "/dashboard"]) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/text\/html/);
      expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(res.body).toContain('<script type="module" src="/dashboard/app.js"></script>');
    }
    const js = await app.inject({ url: "/dashboard/app.js" });
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.body).toContain("/v1/overview");
    for (const name of [...js.body.matchAll(/from "\.\/([a-z-]+\.js)"/g)].map((m) => m[1])) {
      expect((await app.inject({ url: `/dashboard/${name}` })).statusCode, name).toBe(200);
    }
    expect((await app.inject({ url: "/dashboard/..%2Fserver.ts" })).statusCode).toBe(404);
    expect((await app.inject({ url: "/dashboard/index.html" })).statusCode).toBe(404);
  });

  it("reports the traffic that went through the API", async () => {
    const empty = (await app.inject({ url: "/v1/overview", headers: auth() })).json();
    expect(empty.totals).toEqual({ decisions: 0, eventsAccepted: 0, rewardsAccepted: 0, policyUpdates: 0 });
    const candidates = [{ id: "x" }, { id: "y" }, { id: "z" }];
    await post("/v1/events", {
      events: [
        { type: "view", userId: "u1", itemId: "x", eventId: "e1" },
        { type: "view", userId: "u1", itemId: "y", eventId: "e2" },
        { type: "add_to_cart", userId: "u1", itemId: "y", eventId: "e3" },
      ],
    });
    await post("/v1/events", { events: [{ type: "view", userId: "u1", itemId: "y", eventId: "e2" }] }); // duplicate
    for (let i = 0; i < 4; i++) {
      const policyId = i < 3 ? undefined : "uniform";
      const res = await post("/v1/rank", { userId: `u${i}`, candidates, slots: 2, decisionId: `d${i}`, policyId });
      expect(res.statusCode).toBe(200);
    }
    const d0 = (await app.inject({ url: "/v1/decisions/d0", headers: auth() })).json();
    await post("/v1/decisions/d0/reward", { value: 2, itemId: d0.slots[1].itemId });
    await post("/v1/events", {
      events: [{ type: "click", userId: "u1", itemId: "q", decisionId: "d1", eventId: "e4" }],
    });
    const o = (await app.inject({ url: "/v1/overview", headers: auth() })).json();
    expect(o.totals).toMatchObject({ decisions: 4, eventsAccepted: 4, rewardsAccepted: 2 });
    expect(o.defaultPolicy).toBe("default");
    const byId = Object.fromEntries(o.policies.map((p: { policy: string }) => [p.policy, p]));
    expect(byId.default.decisionsTotal).toBe(3);
    // d1's click names item q, which was not shown: stored as accepted, but joined to no slot.
    expect(byId.default.lastHour).toMatchObject({
      decisions: 3,
      rewardedDecisions: 1,
      rewardedShare: 1 / 3,
      rewardMean: 2 / 3,
    });
    // Wilson 95 % for 1 of 3 (Brown, Cai & DasGupta 2001, eq. 4): centre (p + z²/2n)/(1 + z²/n).
    const z = 1.959963984540054;
    const centre = (1 / 3 + (z * z) / 6) / (1 + (z * z) / 3);
    const half = (z * Math.sqrt((1 / 3) * (2 / 3) * (1 / 3) + (z * z) / 36)) / (1 + (z * z) / 3);
    expect(byId.default.lastHour.rewardedShareInterval[0]).toBeCloseTo(centre - half, 9);
    expect(byId.default.lastHour.rewardedShareInterval[1]).toBeCloseTo(centre + half, 9);
    // Rewards arrived, but no window has closed: nothing learned to average yet (not 1.000).
    expect(byId.default.learned).toEqual({ decisions: 0, rewardMean: null });
    expect(byId.uniform.lastHour.decisions).toBe(1);
    expect(o.events.byStatus).toMatchObject({ accepted: 4, duplicate: 1 });
    expect(o.events.byType).toEqual(
      expect.arrayContaining([
        { type: "view", total: 2, lastHour: 2 },
        { type: "add_to_cart", total: 1, lastHour: 1 },
        { type: "click", total: 1, lastHour: 1 },
      ]),
    );
    expect(o.learning.pendingWindows).toBe(4);
    expect(o.recentDecisions.map((d: { decisionId: string }) => d.decisionId)).toEqual(["d3", "d2", "d1", "d0"]);
    expect(o.recentDecisions[3]).toMatchObject({ reward: 2, rewardCount: 1 });
    // No user ids in the overview (issue 14, defect 7).
    expect(o.recentDecisions.some((d: Record<string, unknown>) => "userId" in d)).toBe(false);
    expect(o.rankLatency.requests).toBe(4);
    clock.advance(11 * MINUTE);
    await engine.tick();
    const later = (await app.inject({ url: "/v1/overview", headers: auth() })).json();
    expect(later.learning.pendingWindows).toBe(0);
    expect(later.joins).toEqual({ joined: 1, defaulted: 7 });
    expect(later.uptimeSeconds).toBe(11 * 60);
    // Every window closed: d0 learned 2, d1 (a click on an item not shown) and d2 the default reward 0.
    const learned = Object.fromEntries(
      later.policies.map((p: { policy: string; learned: unknown }) => [p.policy, p.learned]),
    );
    expect(learned.default).toEqual({ decisions: 3, rewardMean: 2 / 3 });
    expect(learned.uniform).toEqual({ decisions: 1, rewardMean: 0 });
  });

  it("does not count twice when a second server is built over the same engine", async () => {
    const second = await buildServer(engine);
    await post("/v1/rank", { userId: "v", candidates: [{ id: "x" }], decisionId: "twice" });
    const o = (await second.inject({ url: "/v1/overview", headers: auth() })).json();
    expect(o.recentDecisions.filter((d: { decisionId: string }) => d.decisionId === "twice")).toHaveLength(1);
    await second.close();
  });
});
