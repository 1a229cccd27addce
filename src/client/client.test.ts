import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createClient, LoopwiseApiError, LoopwiseNetworkError } from "./index.js";
import { backoffMs, retryAfterMs } from "./transport.js";

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A scripted fetch: answers from the list in order and records what was sent. */
function scriptedFetch(answers: (() => Response)[]) {
  const sent: Sent[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    sent.push({
      url,
      method: init.method ?? "GET",
      headers: init.headers as Record<string, string>,
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
    });
    const next = answers.shift();
    if (!next) throw new Error("no scripted answer left");
    return next();
  }) as unknown as typeof globalThis.fetch;
  return { fetch, sent };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const networkError = () => () => {
  throw new TypeError("fetch failed");
};

function client(answers: (() => Response)[], extra: Record<string, unknown> = {}) {
  const { fetch, sent } = scriptedFetch(answers);
  const waits: number[] = [];
  const c = createClient({
    baseUrl: "http://loopwise.test/",
    apiKey: "k1",
    fetch,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { c, sent, waits };
}

const rankAnswer = {
  decisionId: "d",
  policy: { id: "p", type: "t", version: 1 },
  ranking: [],
  candidateSource: "request",
  fallbacks: [],
  activated: true,
};

describe("retries are safe and polite", () => {
  it("a rank gets a decisionId before the first attempt, and the retry after a network error sends the same one", async () => {
    const { c, sent, waits } = client([networkError(), json(200, rankAnswer)]);
    await c.rank({ userId: "u", candidates: [{ id: "a" }] });
    expect(sent).toHaveLength(2);
    const [first, second] = sent.map((s) => s.body as { decisionId: string });
    expect(first?.decisionId).toMatch(/^dec_/);
    expect(second?.decisionId).toBe(first?.decisionId);
    expect(sent[0]?.headers.authorization).toBe("Bearer k1");
    expect(sent[0]?.url).toBe("http://loopwise.test/v1/rank");
    expect(waits).toEqual([50]); // full jitter: 0.5 × 100 ms
  });

  it("honours Retry-After on 429 and 503 (seconds or an HTTP date)", async () => {
    const { c, waits } = client([
      json(429, { code: "RATE_LIMITED" }, { "retry-after": "2" }),
      json(503, { code: "UNAVAILABLE" }, { "retry-after": "0" }),
      json(200, { decisionId: "d", rewardId: "r", status: "accepted" }),
    ]);
    await c.reward("d 1", { value: 1 });
    expect(waits).toEqual([2000, 0]);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs("soon", 0)).toBeUndefined();
  });

  it("backs off exponentially within the cap, uniformly jittered", () => {
    expect(backoffMs(0, 100, 5000, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 5000, () => 1)).toBe(800);
    expect(backoffMs(10, 100, 5000, () => 1)).toBe(5000);
    expect(backoffMs(10, 100, 5000, () => 0)).toBe(0);
  });

  it("never retries a write without an idempotency key after a network error, and gives up after `retries`", async () => {
    const once = client([networkError(), json(202, {})]);
    await expect(once.c.evaluations.start({ logs: "loopwise:" })).rejects.toBeInstanceOf(LoopwiseNetworkError);
    expect(once.sent).toHaveLength(1);
    const many = client([networkError(), networkError(), networkError()], { retries: 2 });
    const error = await many.c.decisions.get("d").catch((e) => e);
    expect(error).toBeInstanceOf(LoopwiseNetworkError);
    expect(error.attempts).toBe(3);
  });

  it("throws typed errors carrying the problem document, without retrying a 4xx", async () => {
    const problem = { type: "t", title: "Decision not found", status: 404, detail: "nope", code: "DECISION_NOT_FOUND" };
    const { c, sent } = client([json(404, problem)]);
    const error = await c.activate("x").catch((e) => e);
    expect(error).toBeInstanceOf(LoopwiseApiError);
    expect(error).toMatchObject({ status: 404, code: "DECISION_NOT_FOUND", problem });
    expect(sent).toHaveLength(1);
  });

  it("aborts an attempt after timeoutMs and retries it", async () => {
    let calls = 0;
    const fetch = ((_url: string, init: RequestInit) => {
      calls++;
      if (calls === 2) return Promise.resolve(json(200, rankAnswer)());
      return new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }) as unknown as typeof globalThis.fetch;
    const c = createClient({ baseUrl: "http://x", fetch, timeoutMs: 5, sleep: async () => {}, random: () => 0 });
    await expect(c.rank({ userId: "u" })).resolves.toMatchObject({ decisionId: "d" });
    expect(calls).toBe(2);
  });

  it("writes query parameters and encodes path segments", async () => {
    const { c, sent } = client([json(200, { userId: "u/1", items: [], model: { name: "m", version: "1" } })]);
    await c.recommendations.get("u/1", { k: 3, exclude: ["a", "b"] });
    expect(sent[0]?.url).toBe("http://loopwise.test/v1/users/u%2F1/recommendations?k=3&exclude=a%2Cb");
  });
});

describe("event batching", () => {
  it("sends at maxBatch, gives each event its own result and an id", async () => {
    const results = [0, 1, 2].map((index) => ({
      index,
      id: `e${index}`,
      status: index === 1 ? "rejected" : "accepted",
    }));
    const { c, sent } = client([json(200, { accepted: 2, duplicates: 0, rejected: 1, rewardsJoined: 0, results })], {
      events: { maxBatch: 3, maxDelayMs: 60_000 },
    });
    const tracked = [0, 1, 2].map((i) => c.events.track({ type: "view", userId: `u${i}` }));
    const out = await Promise.all(tracked);
    expect(out.map((r) => r.status)).toEqual(["accepted", "rejected", "accepted"]);
    expect(sent).toHaveLength(1);
    const events = ((sent[0] as Sent).body as { events: { eventId: string }[] }).events;
    expect(events.every((e) => e.eventId.startsWith("ev_"))).toBe(true);
  });

  it("flush() sends what is buffered; an undeliverable batch resolves failed or rejected per event", async () => {
    const problem = {
      type: "t",
      title: "x",
      status: 400,
      detail: "d",
      code: "VALIDATION_FAILED",
      errors: [
        { path: "events[0].type", message: "bad" },
        { path: "events[1].userId", message: "bad" },
      ],
    };
    const { c } = client([json(400, problem), networkError(), networkError()], { retries: 1 });
    const a = c.events.track({ type: "?", userId: "u" });
    const b = c.events.track({ type: "view", userId: "" });
    expect(c.events.buffered).toBe(2);
    await c.events.flush();
    expect(await a).toMatchObject({ status: "rejected", errors: [{ path: "events[0].type" }] });
    expect(await b).toMatchObject({ status: "rejected", errors: [{ path: "events[1].userId" }] });
    const lost = c.events.track({ type: "view", userId: "u" });
    await c.events.flush();
    expect(await lost).toMatchObject({ status: "failed" });
  });
});

describe("the client runs in browsers", () => {
  it("imports nothing at run time outside src/client and uses no Node-only API", () => {
    const dir = new URL("./", import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
      const source = readFileSync(new URL(file, dir), "utf8");
      const valueImports = [...source.matchAll(/^(?:import|export)(?! type)[^;]*?from "([^"]+)"/gms)].map((m) => m[1]);
      for (const spec of valueImports) expect(spec, `${file} imports ${spec}`).toMatch(/^\.\/[\w-]+\.js$/);
      expect(source, file).not.toMatch(/\bprocess\.|\bBuffer\b|require\(|from "node:/);
    }
  });
});
