import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, LoopwiseApiError } from "../../src/client/index.js";
import type { ResponseCheck } from "../../src/server/openapi-validate.js";
import { type FlakyProxy, startFlakyProxy } from "./flaky-proxy.js";
import { responseValidator } from "./openapi-responses.js";
import { killHard, randomPort, type ServerProcess, startServerProcess } from "./server-process.js";

const adminKey = `lw_test_${"c".repeat(24)}`;
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-client-"));
let server: ServerProcess;
let proxy: FlakyProxy;
let check: ResponseCheck;
const checked: string[] = [];

beforeAll(async () => {
  server = await startServerProcess(dataDir, randomPort(), { LOOPWISE_ADMIN_KEY: adminKey });
  check = await responseValidator(server.url, adminKey);
  proxy = await startFlakyProxy(server.url, (route) => {
    if (route === "POST /v1/rank" || route === "POST /v1/events") return "lose-answer";
    if (route.startsWith("POST /v1/decisions/") && route.endsWith("/reward")) return "lose-answer";
    if (route === "GET /v1/policies") return "unavailable";
    return undefined;
  });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  if (server) await killHard(server.child);
  rmSync(dataDir, { recursive: true, force: true });
});

/** fetch that also checks every answer against the server's own OpenAPI document. */
const checkingFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const res = await fetch(input, init);
  const url = new URL(String(input));
  const text = await res.clone().text();
  const isJson = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
  check(init?.method ?? "GET", url.pathname, res.status, isJson ? JSON.parse(text) : undefined);
  checked.push(`${init?.method ?? "GET"} ${url.pathname} ${res.status}`);
  return res;
}) as typeof fetch;

const client = () => createClient({ baseUrl: proxy.url, apiKey: adminKey, fetch: checkingFetch, backoffMs: 10 });

async function overview() {
  const res = await fetch(`${server.url}/v1/overview`, { headers: { authorization: `Bearer ${adminKey}` } });
  return (await res.json()).totals as { decisions: number; eventsAccepted: number; rewardsAccepted: number };
}

describe("the typed client against a real server behind a proxy that fails once", () => {
  it("a rank, a reward and a batch of events whose answers were lost are retried and counted once", async () => {
    const c = client();
    await c.items.upsert([
      { id: "a", category: "x" },
      { id: "b", category: "y" },
    ]);
    const ranked = await c.rank({ userId: "u1", candidates: [{ id: "a" }, { id: "b" }], slots: 1 });
    expect(proxy.seen.get("POST /v1/rank")).toBe(2);
    const rewarded = await c.reward(ranked.decisionId, { value: 1 });
    expect(proxy.seen.get(`POST /v1/decisions/${ranked.decisionId}/reward`)).toBe(2);
    // The lost first attempt was applied; the retry, with the same rewardId, is recognised.
    expect(rewarded.status).toBe("duplicate");
    const tracked = await Promise.all(
      ["view", "click", "view"].map((type, i) =>
        c.events.track({ type, userId: "u1", sessionId: "s1", itemId: i === 1 ? "b" : "a" }),
      ),
    );
    await c.events.flush();
    expect(proxy.seen.get("POST /v1/events")).toBe(2);
    expect(tracked.map((t) => t.status)).toEqual(["duplicate", "duplicate", "duplicate"]);
    const decision = await c.decisions.get(ranked.decisionId);
    expect(decision.rewards).toHaveLength(1);
    expect(await overview()).toMatchObject({ decisions: 1, eventsAccepted: 3, rewardsAccepted: 1 });
    const features = await c.features.get("u1");
    expect(features.aggregates).toMatchObject({ session_count_view: 2, session_count_click: 1 });
  });

  it("waits out a 503 with Retry-After, and reads policies", async () => {
    const c = client();
    const list = await c.policies.list();
    expect(proxy.seen.get("GET /v1/policies")).toBe(2);
    expect(list.default).toBeTruthy();
  });

  it("covers the rest of the API with typed calls and typed errors", async () => {
    const c = client();
    const registered = await c.policies.register({ id: "eg", type: "epsilon-greedy", params: { epsilon: 0.1 } });
    expect(registered).toMatchObject({ id: "eg", changed: true });
    expect((await c.policies.register({ id: "eg", type: "epsilon-greedy", params: { epsilon: 0.1 } })).changed).toBe(
      false,
    );
    expect((await c.policies.get("eg")).type).toBe("epsilon-greedy");
    const dist = await c.policies.distribution("eg", { candidates: [{ id: "a" }, { id: "b" }] });
    expect(dist.probabilities.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
    const deferred = await c.rank({ userId: "u2", candidates: [{ id: "a" }, { id: "b" }], deferActivation: true });
    expect(deferred.activated).toBe(false);
    expect((await c.activate(deferred.decisionId)).activated).toBe(true);
    const job = await c.evaluations.start({ logs: "loopwise:", targets: ["uniform"] });
    expect((await c.evaluations.get(job.id)).id).toBe(job.id);
    const rollout = await c.rollouts.start({ candidate: "eg", incumbent: "default" });
    expect((await c.rollouts.pause(rollout.id)).status).toBe("paused");
    expect((await c.rollouts.resume(rollout.id)).status).not.toBe("paused");
    expect((await c.rollouts.list()).rollouts.map((r) => r.id)).toContain(rollout.id);
    expect((await c.rollouts.abort(rollout.id)).candidateShare).toBe(0);
    const missing = await c.decisions.get("no-such-decision").catch((e) => e);
    expect(missing).toBeInstanceOf(LoopwiseApiError);
    expect(missing).toMatchObject({ status: 404, code: "DECISION_NOT_FOUND" });
    const invalid = await c.rank({ userId: "" }).catch((e) => e);
    expect(invalid.problem.errors[0].path).toBe("userId");
    const unauthorized = await createClient({ baseUrl: server.url, apiKey: "wrong-key", fetch: checkingFetch })
      .policies.setDefault("eg")
      .catch((e) => e);
    expect(unauthorized).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(checked.length).toBeGreaterThan(20);
  });
});
