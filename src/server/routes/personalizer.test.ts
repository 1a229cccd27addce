import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../app/engine.js";
import { ManualClock } from "../../core/clock.js";
import { buildServer } from "../server.js";

let engine: Engine;
let app: FastifyInstance;

beforeEach(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
    logger: pino({ level: "silent" }),
    config: { rewards: { window: "4h", defaultReward: 0, aggregation: "sum" } },
  });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

const example = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../spec/personalizer/${name}`, import.meta.url), "utf8")) as {
    request: Record<string, unknown>;
    status: number;
  };
const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });
const post = (url: string, payload?: unknown) =>
  app.inject({
    method: "POST",
    url,
    headers: auth(),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
const P = "/personalizer/v1.0";

interface Ranked {
  ranking: { id: string; probability: number }[];
  eventId: string;
  rewardActionId: string;
}

describe("Personalizer single-slot routes", () => {
  it("ranks the documented example: 201, chosen action first with its logged propensity, excluded at 0", async () => {
    const ex = example("rank.json");
    const res = await post(`${P}/rank`, ex.request);
    expect(res.statusCode).toBe(ex.status);
    const body = res.json() as Ranked;
    expect(body.eventId).toBe(ex.request.eventId);
    expect(body.ranking[0]?.id).toBe(body.rewardActionId);
    expect(body.rewardActionId).not.toBe("SportsArticle");
    expect(body.ranking.map((r) => r.id).sort()).toEqual(["EntertainmentArticle", "NewsArticle", "SportsArticle"]);
    expect(body.ranking.find((r) => r.id === "SportsArticle")?.probability).toBe(0);
    const total = body.ranking.reduce((s, r) => s + r.probability, 0);
    expect(total).toBeCloseTo(1, 12);
    const logged = (await app.inject({ url: `/v1/decisions/${body.eventId}`, headers: auth() })).json();
    expect(logged.slots).toHaveLength(1);
    expect(logged.slots[0].itemId).toBe(body.rewardActionId);
    expect(logged.slots[0].propensity).toBe(body.ranking[0]?.probability);
    expect(logged.context).toEqual({ timeOfDay: "Morning" });
  });

  it("a retried rank with the same eventId answers the same decision", async () => {
    const { request } = example("rank-namespaces.json");
    const first = (await post(`${P}/rank`, request)).json();
    const again = (await post(`${P}/rank`, request)).json();
    expect(again).toEqual(first);
    expect(await engine.decisions.count()).toBe(1);
  });

  it("rewards the chosen action (204), and answers 204 to an unknown eventId, saying so in a header", async () => {
    const { eventId } = (await post(`${P}/rank`, example("rank.json").request)).json() as Ranked;
    const res = await post(`${P}/events/${eventId}/reward`, example("reward.json").request);
    expect(res.statusCode).toBe(204);
    expect(res.headers["loopwise-status"]).toBe("accepted");
    const logged = (await app.inject({ url: `/v1/decisions/${eventId}`, headers: auth() })).json();
    expect(logged.rewards.map((r: { value: number }) => r.value)).toEqual([1]);
    const unknown = await post(`${P}/events/no-such-event/reward`, { value: 1 });
    expect(unknown.statusCode).toBe(204);
    expect(unknown.headers["loopwise-status"]).toBe("unknown_event");
  });

  it("counts every reward call as Personalizer does, and a repeated Idempotency-Key once", async () => {
    const { eventId } = (await post(`${P}/rank`, example("rank.json").request)).json() as Ranked;
    const url = `${P}/events/${eventId}/reward`;
    expect((await post(url, { value: 1 })).headers["loopwise-status"]).toBe("accepted");
    expect((await post(url, { value: 1 })).headers["loopwise-status"]).toBe("accepted");
    const keyed = () =>
      app.inject({ method: "POST", url, headers: { ...auth(), "idempotency-key": "r-7" }, payload: { value: 1 } });
    expect((await keyed()).headers["loopwise-status"]).toBe("accepted");
    expect((await keyed()).headers["loopwise-status"]).toBe("duplicate");
    const found = await engine.decisions.get(eventId);
    expect(found?.rewards).toHaveLength(3);
  });

  it("defers activation until activate; rewards before it are not counted", async () => {
    const request = { ...example("rank.json").request, eventId: "deferred-1", deferActivation: true };
    await post(`${P}/rank`, request);
    expect((await post(`${P}/events/deferred-1/reward`, { value: 1 })).headers["loopwise-status"]).toBe(
      "not_activated",
    );
    const activated = await post(`${P}/events/deferred-1/activate`);
    expect(activated.statusCode).toBe(204);
    expect((await post(`${P}/events/deferred-1/reward`, { value: 0.5 })).headers["loopwise-status"]).toBe("accepted");
  });

  it("answers errors in Personalizer's shape, naming the field as the client sent it", async () => {
    const res = await post(`${P}/rank`, { actions: [{ id: "a", features: [{ x: { y: "z".repeat(2000) } }] }] });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toContain("application/json");
    const { error } = res.json();
    expect(error.code).toBe("BadRequest");
    expect(error.details[0].target).toBe("actions[0].features[0].x.y");
    expect(error.innerError).toEqual({ code: "VALIDATION_FAILED" });
    const allExcluded = await post(`${P}/rank`, { actions: [{ id: "a" }], excludedActions: ["a"] });
    expect(allExcluded.statusCode).toBe(400);
    expect(allExcluded.json().error.innerError.code).toBe("NO_CANDIDATES");
    expect(allExcluded.json().error.message).toBe("every action is in excludedActions (1 sent)");
    const badReward = await post(`${P}/events/e/reward`, { value: "high" });
    expect(badReward.json().error.details[0].target).toBe("value");
  });

  it("takes a dense embedding as features (a 1,536-dimension context, 300 an action), and names an oversized one as sent", async () => {
    const embedding = (n: number) => Array.from({ length: n }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);
    const ranked = await post(`${P}/rank`, {
      contextFeatures: [{ user: { embedding: embedding(1536) } }, { device: "mobile" }],
      actions: [
        { id: "a", features: [{ e: embedding(300) }] },
        { id: "b", features: [{ e: embedding(300) }] },
      ],
      eventId: "embedded-1",
    });
    expect(ranked.statusCode).toBe(201);
    const logged = (await engine.decisions.get("embedded-1"))?.decision;
    expect(Object.keys(logged?.context ?? {})).toHaveLength(1537);
    expect(logged?.context?.["user.embedding[1535]"]).toBe(embedding(1536)[1535]);
    expect((await post(`${P}/events/embedded-1/reward`, { value: 1 })).headers["loopwise-status"]).toBe("accepted");
    const tooMany = await post(`${P}/rank`, { contextFeatures: [{ e: embedding(4097) }], actions: [{ id: "a" }] });
    expect(tooMany.statusCode).toBe(400);
    // The field as the client named it (a prefix rename once made it "contextFeaturesFeatures").
    expect(tooMany.json().error.target).toBe("contextFeatures");
    expect(tooMany.json().error.message).toBe("contextFeatures: must have at most 4096 keys");
  });

  it("answers a Personalizer route it does not serve with a 404 naming what to use instead", async () => {
    const notFound = async (method: "GET" | "PUT" | "POST" | "DELETE", url: string) => {
      const res = await app.inject({ method, url, headers: auth() });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe("ResourceNotFound");
      return res.json().error.message as string;
    };
    expect(await notFound("GET", `${P}/model`)).toContain("GET /v1/policies/{id}");
    expect(await notFound("PUT", `${P}/configurations/service`)).toContain("loopwise.config.json");
    expect(await notFound("GET", `${P}/configurations/policy`)).toContain("PUT /v1/policies/default");
    expect(await notFound("POST", `${P}/configurations/applyFromEvaluation`)).toContain("POST /v1/rollouts");
    expect(await notFound("GET", `${P}/evaluations/e1`)).toContain("POST /v1/evaluations");
    expect(await notFound("GET", `${P}/logs/properties`)).toContain("loopwise log stats");
    const upload = await notFound("POST", "/personalizer/v1.1-preview.3/logs/interactions");
    expect(upload).toContain("POST /personalizer/v1.1-preview.3/rank");
    const typo = await notFound("POST", `${P}/rnak`);
    expect(typo).toBe(
      "POST /personalizer/v1.0/rnak is not a route of the Personalizer API; under /personalizer/v1.0 Loopwise serves " +
        "POST /rank, POST /events/{eventId}/reward, POST /events/{eventId}/activate, POST /multislot/rank, " +
        "POST /multislot/events/{eventId}/reward, POST /multislot/events/{eventId}/activate, GET /configurations/service",
    );
  });

  it("maps the service configuration from Loopwise's settings, in each version's duration format", async () => {
    const v1 = (await app.inject({ url: `${P}/configurations/service`, headers: auth() })).json();
    expect(v1).toMatchObject({ rewardWaitTime: "04:00:00", defaultReward: 0, rewardAggregation: "sum" });
    const v11 = (
      await app.inject({ url: "/personalizer/v1.1-preview.3/configurations/service", headers: auth() })
    ).json();
    expect(v11.rewardWaitTime).toBe("PT4H");
  });

  it("accepts the key as Ocp-Apim-Subscription-Key (here on an admin route)", async () => {
    const spec = { id: "eg", type: "epsilon-greedy" };
    const without = await app.inject({ method: "POST", url: "/v1/policies", payload: spec });
    expect(without.statusCode).toBe(401);
    const res = await app.inject({
      method: "POST",
      url: "/v1/policies",
      headers: { "ocp-apim-subscription-key": engine.adminKey },
      payload: spec,
    });
    expect(res.statusCode).toBe(201);
  });
});

describe("Personalizer multi-slot routes", () => {
  it("fills every slot with a distinct action, honouring each slot's exclusions; rewards and activates per slot", async () => {
    const ex = example("multislot-rank.json");
    const request = { ...ex.request, deferActivation: true };
    const res = await post(`${P}/multislot/rank`, request);
    expect(res.statusCode).toBe(201);
    const body = res.json() as { slots: { id: string; rewardActionId: string }[]; eventId: string };
    expect(body.slots.map((s) => s.id)).toEqual(["Main Article", "Side Bar"]);
    const [main, side] = body.slots;
    expect(main?.rewardActionId).not.toBe("SportsArticle");
    expect(side?.rewardActionId).not.toBe(main?.rewardActionId);
    const eventId = body.eventId;
    const slot0 = (await app.inject({ url: `/v1/decisions/${eventId}:0`, headers: auth() })).json();
    expect(slot0.slots[0].itemId).toBe(main?.rewardActionId);
    expect(slot0.baselineItemId).toBe("EntertainmentArticle");
    expect(slot0.context["slot.position"]).toBe("Top Middle");
    const reward = { reward: [{ slotId: "Side Bar", value: 0.6 }] };
    expect((await post(`${P}/multislot/events/${eventId}/reward`, reward)).headers["loopwise-status"]).toBe(
      "not_activated",
    );
    expect((await post(`${P}/multislot/events/${eventId}/activate`)).statusCode).toBe(204);
    const again = await post(`${P}/multislot/events/${eventId}/reward`, {
      reward: [...reward.reward, { slotId: "Main Article", value: 0.5 }],
    });
    expect(again.statusCode).toBe(204);
    expect(again.headers["loopwise-status"]).toBe("accepted,accepted");
    const documented = await post(`${P}/multislot/events/${eventId}/reward`, example("multislot-reward.json").request);
    expect(documented.statusCode).toBe(204);
    expect(documented.headers["loopwise-status"]).toBe("unknown_event,unknown_event");
    const slot1 = (await app.inject({ url: `/v1/decisions/${eventId}:1`, headers: auth() })).json();
    expect(
      slot1.rewards.filter((r: { ignored?: boolean }) => !r.ignored).map((r: { value: number }) => r.value),
    ).toContain(0.6);
  });

  it("leaves a slot without rewardActionId when no action is left for it", async () => {
    const res = await post(`${P}/multislot/rank`, {
      actions: [{ id: "a" }],
      slots: [
        { id: "one", baselineAction: "a" },
        { id: "two", baselineAction: "a" },
      ],
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().slots).toEqual([{ id: "one", rewardActionId: "a" }, { id: "two" }]);
  });
});
