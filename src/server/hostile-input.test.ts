import { connect } from "node:net";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock, MINUTE } from "../core/clock.js";
import { clientErrorHandler } from "./problem.js";
import { buildServer } from "./server.js";

/** Issue 14's defects 1, 3, 4 and 5, each reproduced through HTTP. */
let engine: Engine;
let app: FastifyInstance;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  app = await buildServer(engine);
});
afterEach(async () => {
  await app.close();
  await engine.close();
});

const auth = () => ({ authorization: `Bearer ${engine.adminKey}` });
const send = (method: "GET" | "POST" | "PUT", url: string, payload?: unknown) =>
  app.inject({ method, url, headers: auth(), ...(payload === undefined ? {} : { payload: payload as object }) });
const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers["content-type"])).toContain("application/problem+json");
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), code: expect.any(String) });
  return body;
}

describe("defect 1: user-supplied keys are never looked up through the prototype", () => {
  it("accepts an event typed like an Object.prototype member, and a retry is a plain duplicate", async () => {
    await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: "d1" });
    for (const type of ["constructor", "tostring", "valueof", "hasownproperty"]) {
      const body = { events: [{ type, userId: "u", decisionId: "d1", eventId: `e-${type}` }] };
      const first = await send("POST", "/v1/events", body);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ accepted: 1, rewardsJoined: 0 });
      expect((await send("POST", "/v1/events", body)).json()).toMatchObject({ duplicates: 1 });
    }
    const decision = await send("GET", "/v1/decisions/d1");
    expect(decision.json().rewards).toEqual([]);
  });

  it("answers an unknown policy type such as constructor or __proto__ with a 400", async () => {
    for (const type of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const res = await send("POST", "/v1/policies", { id: `p-${type.replace(/_/g, "")}`, type });
      const body = expectProblem(res, 400);
      expect(body.code).toBe("VALIDATION_FAILED");
    }
  });

  it("refuses estimators and reward models named after prototype members", async () => {
    const estimator = await send("POST", "/v1/evaluations", { logs: "loopwise:", estimators: ["constructor"] });
    expect(expectProblem(estimator, 400).errors).toEqual([expect.objectContaining({ path: "estimators[0]" })]);
    const model = await send("POST", "/v1/evaluations", { logs: "loopwise:", rewardModel: "toString" });
    expect(expectProblem(model, 400).errors).toEqual([expect.objectContaining({ path: "rewardModel" })]);
  });
});

describe("defect 3: times and values are bounded", () => {
  it("refuses reward timestamps outside 2000–2100 or the ingest window, and before the decision", async () => {
    await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: "d1" });
    for (const timestamp of [1e20, -1, "1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z"]) {
      const body = expectProblem(await send("POST", "/v1/decisions/d1/reward", { value: 1, timestamp }), 400);
      expect(body.errors).toEqual([expect.objectContaining({ path: "timestamp" })]);
    }
    const tooOld = clock.now() - 30 * 24 * 60 * MINUTE;
    expectProblem(await send("POST", "/v1/decisions/d1/reward", { value: 1, timestamp: tooOld }), 400);
    const beforeDecision = await send("POST", "/v1/decisions/d1/reward", { value: 1, timestamp: clock.now() - 1000 });
    expect(expectProblem(beforeDecision, 400).detail).toMatch(/before the decision/);
    const ok = await send("POST", "/v1/decisions/d1/reward", { value: 1, timestamp: clock.now() + 1000 });
    expect(ok.json()).toMatchObject({ status: "accepted" });
    const read = await send("GET", "/v1/decisions/d1");
    expect(read.statusCode).toBe(200);
    expect(read.json().rewards).toHaveLength(1);
  });

  it("refuses reward values beyond ±1e9, so no mean can overflow", async () => {
    await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: "d1" });
    for (const value of [1.7e308, -1.7e308, 1e9 + 1]) {
      const body = expectProblem(await send("POST", "/v1/decisions/d1/reward", { value }), 400);
      expect(body.errors).toEqual([expect.objectContaining({ path: "value" })]);
    }
    const big = await send("POST", "/v1/events", {
      events: [{ type: "purchase", userId: "u", itemId: "a", value: 1.7e308, decisionId: "d1" }],
    });
    expectProblem(big, 400);
    expect((await send("POST", "/v1/decisions/d1/reward", { value: 1e9 })).json().status).toBe("accepted");
  });

  it("does not join an event-borne reward dated before its decision", async () => {
    await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: "d1" });
    const res = await send("POST", "/v1/events", {
      events: [{ type: "click", userId: "u", decisionId: "d1", timestamp: clock.now() - 5000 }],
    });
    expect(res.json()).toMatchObject({ accepted: 1, rewardsJoined: 0 });
  });
});

describe("defect 4: PUT /v1/policies/default changes what rank serves", () => {
  it("serves the new default at once", async () => {
    const before = await send("POST", "/v1/rank", { userId: "u", candidates });
    expect(before.json().policy.id).toBe("default");
    expect((await send("PUT", "/v1/policies/default", { id: "uniform" })).statusCode).toBe(200);
    expect((await send("GET", "/v1/policies")).json().default).toBe("uniform");
    const after = await send("POST", "/v1/rank", { userId: "u", candidates });
    expect(after.json().policy).toMatchObject({ id: "uniform", type: "uniform" });
  });

  it("seeds a fresh install's default from config rank.defaultPolicy", async () => {
    const seeded = await createEngine({
      dataDir: ":memory:",
      clock,
      logger: pino({ level: "silent" }),
      config: { rank: { defaultPolicy: "uniform" } },
    });
    try {
      expect(seeded.parts.policies.defaultPolicyId).toBe("uniform");
      expect((await seeded.rank({ userId: "u", candidates })).policy.id).toBe("uniform");
    } finally {
      await seeded.close();
    }
  });
});

describe("defect 5: one id rule, and every error a problem document", () => {
  it("accepts 128-character ids (multi-byte too) in bodies and paths alike", async () => {
    for (const id of ["d".repeat(128), "🦄".repeat(128), "é".repeat(128)]) {
      const ranked = await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: id });
      expect(ranked.statusCode).toBe(200);
      const path = `/v1/decisions/${encodeURIComponent(id)}`;
      expect((await send("GET", path)).json().decisionId).toBe(id);
      expect((await send("POST", `${path}/reward`, { value: 1 })).json().status).toBe("accepted");
    }
  });

  it("refuses ids over 128 characters, with whitespace, control characters or lone surrogates, in bodies", async () => {
    for (const decisionId of ["d".repeat(129), "a b", "a\u0007b", "a\ud800b", "\udc00", "", ".", ".."]) {
      const body = expectProblem(await send("POST", "/v1/rank", { userId: "u", candidates, decisionId }), 400);
      expect(body.errors).toEqual([expect.objectContaining({ path: "decisionId" })]);
    }
  });

  it("answers bad path ids, bad percent-encoding and over-long paths with problem documents", async () => {
    const tooLong = expectProblem(await send("GET", `/v1/decisions/${"d".repeat(129)}`), 400);
    expect(tooLong.errors).toEqual([expect.objectContaining({ path: "(path) decisionId" })]);
    expect(expectProblem(await send("GET", "/v1/decisions/%ED%A0%80"), 400).code).toBe("BAD_URL");
    expect(expectProblem(await send("GET", "/v1/decisions/%zz"), 400).code).toBe("BAD_URL");
    expect(expectProblem(await send("GET", `/v1/decisions/${"d".repeat(3000)}`), 414).code).toBe("URI_TOO_LONG");
    expect(expectProblem(await send("GET", "/v1/nothing"), 404).code).toBe("NOT_FOUND");
  });

  it("answers a wrong content type with 415 and malformed JSON with 400, both problem documents", async () => {
    const media = await app.inject({
      method: "POST",
      url: "/v1/rank",
      headers: { ...auth(), "content-type": "application/xml" },
      payload: "hello",
    });
    expect(expectProblem(media, 415).code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const json = await app.inject({
      method: "POST",
      url: "/v1/rank",
      headers: { ...auth(), "content-type": "application/json" },
      payload: '{"userId": ',
    });
    expect(expectProblem(json, 400).code).toBe("INVALID_JSON");
  });

  it("answers requests Node's HTTP parser refuses (headers too large, not HTTP) with problem documents", async () => {
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as { port: number }).port;
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => socket.end(text));
        let out = "";
        socket.on("data", (d) => {
          out += d.toString();
        });
        socket.on("close", () => resolve(out));
        socket.on("error", reject);
      });
    const big = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1.1 431 /);
    expect(big).toContain("content-type: application/problem+json".replace("content-type", "Content-Type"));
    expect(JSON.parse(big.slice(big.indexOf("\r\n\r\n") + 4))).toMatchObject({
      status: 431,
      code: "HEADERS_TOO_LARGE",
    });
    const garbage = await raw("NOT HTTP AT ALL\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4))).toMatchObject({ code: "BAD_REQUEST" });
  });

  it("answers a request timeout with a 408 problem document", () => {
    let written = "";
    const socket = { destroyed: false, writable: true, write: (t: string) => (written += t), destroy: () => {} };
    const error = Object.assign(new Error("timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" });
    clientErrorHandler(error, socket as unknown as Parameters<typeof clientErrorHandler>[1]);
    expect(written).toMatch(/^HTTP\/1.1 408 /);
    expect(JSON.parse(written.slice(written.indexOf("\r\n\r\n") + 4))).toMatchObject({ code: "REQUEST_TIMEOUT" });
  });
});

describe("prototype poisoning in a JSON body (server/json-body.ts)", () => {
  const raw = (url: string, body: string) =>
    app.inject({ method: "POST", url, headers: { ...auth(), "content-type": "application/json" }, payload: body });

  it("refuses __proto__ and constructor.prototype keys, also written with \\u escapes, naming them", async () => {
    const poisons: [string, string][] = [
      ['"__proto__": {"isAdmin": true}', "__proto__"],
      ['"\\u005f_proto__": {"isAdmin": true}', "__proto__"],
      ['"constructor": {"prototype": {"isAdmin": true}}', "constructor"],
      ['"\\u0063onstructor": {"prototype": {"isAdmin": true}}', "constructor"],
    ];
    for (const [poison, key] of poisons) {
      const rank = await raw("/v1/rank", `{"userId": "u", "candidates": [{"id": "a"}, {"id": "b", ${poison}}]}`);
      expect(expectProblem(rank, 400).errors, poison).toEqual([
        { path: `candidates[1].${key}`, message: expect.stringMatching(/prototype poisoning/) },
      ]);
      const events = await raw(
        "/v1/events",
        `{"events": [{"type": "view", "userId": "u", "eventId": "p1", ${poison}}]}`,
      );
      expect((expectProblem(events, 400).errors as { path: string }[])[0]?.path, poison).toBe(`events[0].${key}`);
    }
    // A key that only looks like one is an ordinary key: "constructor" without a prototype in it.
    const plain = await raw(
      "/v1/events",
      '{"events": [{"type": "view", "userId": "u", "context": {"constructor": 1}}]}',
    );
    expect(plain.statusCode).toBe(200);
    // Nothing was logged or ingested: the event id p1 is new.
    const retry = await send("POST", "/v1/events", { events: [{ type: "view", userId: "u", eventId: "p1" }] });
    expect(retry.json().results[0].status).toBe("accepted");
    expect(await engine.decisions.count()).toBe(0);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe("an empty body sent as application/json (server/json-body.ts OPTIONAL_BODY)", () => {
  const empty = (url: string) =>
    app.inject({ method: "POST", url, payload: "", headers: { ...auth(), "content-type": "application/json" } });

  it("is no body on the routes whose body is optional, as clients that always send the header expect", async () => {
    await send("POST", "/v1/rank", { userId: "u", candidates, decisionId: "d-act" });
    const activated = await empty("/v1/decisions/d-act/activate");
    expect(activated.statusCode).toBe(200);
    // Personalizer's activate takes no body either: a client with a default JSON header moves unchanged.
    await send("POST", "/personalizer/v1.0/rank", { actions: [{ id: "a" }, { id: "b" }], eventId: "pz-1" });
    expect((await empty("/personalizer/v1.0/events/pz-1/activate")).statusCode).toBe(204);
    expect((await send("GET", "/v1/decisions/d-act")).json().activated).toBe(true);
    // The admin actions that take no body ran: a retrain (nothing to train on yet), a rollout's pause (none).
    expect(expectProblem(await empty("/v1/models/train"), 409).code).toBe("CONFLICT");
    expect(expectProblem(await empty("/v1/rollouts/nope/pause"), 404).code).toBe("ROLLOUT_NOT_FOUND");
    // An unknown decision is still a 404, not a parse error: the route ran.
    expect(expectProblem(await empty("/v1/decisions/nope/activate"), 404).code).toBe("DECISION_NOT_FOUND");
  });

  it("is still refused where a body is needed, naming the problem", async () => {
    const needBodies = [
      "/v1/rank",
      "/v1/events",
      "/v1/decisions/d-act/reward",
      "/v1/evaluations",
      "/personalizer/v1.0/rank",
      "/personalizer/v1.0/events/pz-1/reward",
    ];
    for (const url of needBodies) {
      const res = await empty(url);
      expect(res.statusCode, url).toBe(400);
      expect(JSON.stringify(res.json()), url).toMatch(/the body is empty/);
    }
  });
});
