import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock } from "../core/clock.js";
import { buildServer } from "./server.js";

/**
 * The hot routes validate with compiled schemas now; a bad body must still get zod's precise wording.
 * These bodies are what the routes answered before the compiled validators (captured from that version),
 * with issue 14's id rule and time bounds, whose wording changed on purpose (written here in full).
 */
const ID_RULE =
  'must be 1–128 characters, without whitespace, control characters or lone surrogates, and not "." or ".."';
const timeRule = (got: string) => `expected an ISO-8601 time or epoch milliseconds between 2000 and 2100, got "${got}"`;
let engine: Engine;
let app: Awaited<ReturnType<typeof buildServer>>;
beforeAll(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12, 5)),
    logger: pino({ level: "silent" }),
  });
  app = await buildServer(engine);
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const post = (url: string, payload: object) =>
  app.inject({ method: "POST", url, payload, headers: { authorization: `Bearer ${engine.adminKey}` } });

const problem = (errors: { path: string; message: string }[]) => ({
  type: "https://loopwise.dev/errors/validation-failed",
  title: "Request validation failed",
  status: 400,
  detail: errors.map((e) => `${e.path || "(root)"}: ${e.message}`).join("; "),
  code: "VALIDATION_FAILED",
  errors,
});

describe("the compiled hot routes answer bad bodies with unchanged problem details", () => {
  it("rank", async () => {
    const res = await post("/v1/rank", {
      userId: "a b",
      candidates: [{ id: "x", features: { "": 1 } }],
      slots: 0,
      extra: 1,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.json()).toEqual(
      problem([
        { path: "userId", message: ID_RULE },
        { path: "candidates[0].features.", message: "Invalid key in record" },
        { path: "slots", message: "Too small: expected number to be >=1" },
        { path: "", message: 'Unrecognized key: "extra"' },
      ]),
    );
  });

  it("events", async () => {
    const res = await post("/v1/events", {
      events: [
        { type: "view", userId: "u", timestamp: "yesterday" },
        { type: "View", userId: "u\u0001", price: -1 },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(
      problem([
        { path: "events[0].timestamp", message: timeRule("yesterday") },
        {
          path: "events[1].type",
          message: "must be view, click, add_to_cart, purchase or a custom lowercase name like wishlist_add",
        },
        { path: "events[1].userId", message: ID_RULE },
        { path: "events[1].price", message: "Too small: expected number to be >=0" },
      ]),
    );
  });

  it("reward", async () => {
    const res = await post("/v1/decisions/d1/reward", { value: "1", timestamp: "2026-13-45T00:00:00Z" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(
      problem([
        { path: "value", message: "Invalid input: expected number, received string" },
        { path: "timestamp", message: timeRule("2026-13-45T00:00:00Z") },
      ]),
    );
  });

  it("a valid body passes the compiled path with its time parsed", async () => {
    const res = await post("/v1/events", {
      events: [{ type: "view", userId: "u", itemId: "i", timestamp: "2026-11-27T12:00:00Z" }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 0 });
  });
});
