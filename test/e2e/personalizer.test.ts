import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseValidator } from "./openapi-responses.js";
import { getDecision, killHard, randomPort, runCli, type ServerProcess, startServerProcess } from "./server-process.js";

const adminKey = `lw_test_${"k".repeat(24)}`;
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-personalizer-"));
let server: ServerProcess;
let checkResponse: Awaited<ReturnType<typeof responseValidator>>;

beforeAll(async () => {
  server = await startServerProcess(dataDir, randomPort(), { LOOPWISE_ADMIN_KEY: adminKey });
  checkResponse = await responseValidator(server.url, adminKey);
}, 60_000);
afterAll(async () => {
  if (server) await killHard(server.child);
  rmSync(dataDir, { recursive: true, force: true });
});

const example = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, "../../spec/personalizer", name), "utf8")) as {
    request?: Record<string, unknown>;
    status: number;
  };

/** A Personalizer client's call: its key in Ocp-Apim-Subscription-Key, nothing Loopwise-specific. */
async function personalizer(method: string, path: string, body?: unknown) {
  const route = `/personalizer/v1.0${path}`;
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: {
      "ocp-apim-subscription-key": adminKey,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = text === "" ? undefined : JSON.parse(text);
  checkResponse(method, route, res.status, json);
  return { status: res.status, body: json, headers: res.headers };
}

const decision = (id: string) => getDecision(server.url, adminKey, id);

describe("a Personalizer client against a real server (its documented examples, as written)", () => {
  it("rank → reward → the decision is logged with the served propensity and the reward joined", async () => {
    const rank = example("rank.json");
    const ranked = await personalizer("POST", "/rank", rank.request);
    expect(ranked.status).toBe(rank.status);
    expect(ranked.body.eventId).toBe(rank.request?.eventId);
    expect(ranked.body.ranking[0].id).toBe(ranked.body.rewardActionId);
    expect(ranked.body.rewardActionId).not.toBe("SportsArticle");
    const reward = example("reward.json");
    const rewarded = await personalizer("POST", `/events/${ranked.body.eventId}/reward`, reward.request);
    expect(rewarded.status).toBe(reward.status);
    expect(rewarded.headers.get("loopwise-status")).toBe("accepted");
    const logged = await decision(ranked.body.eventId);
    expect(logged.slots[0]).toMatchObject({
      itemId: ranked.body.rewardActionId,
      propensity: ranked.body.ranking[0].probability,
    });
    expect(logged.rewards.map((r: { value: number }) => r.value)).toEqual([1]);
    // The documented activate example names the event "id", which was never ranked: 204 as Personalizer.
    const activate = example("activate.json");
    const unknown = await personalizer("POST", "/events/id/activate");
    expect(unknown.status).toBe(activate.status);
    expect(unknown.headers.get("loopwise-status")).toBe("unknown_event");
  });

  it("multi-slot rank → activate → reward per slot", async () => {
    const rank = example("multislot-rank.json");
    const request = { ...rank.request, eventId: "ms-e2e-1", deferActivation: true };
    const ranked = await personalizer("POST", "/multislot/rank", request);
    expect(ranked.status).toBe(rank.status);
    const chosen = ranked.body.slots.map((s: { rewardActionId: string }) => s.rewardActionId);
    expect(new Set(chosen).size).toBe(2);
    expect(chosen[0]).not.toBe("SportsArticle");
    expect((await personalizer("POST", "/multislot/events/ms-e2e-1/activate")).status).toBe(
      example("multislot-activate.json").status,
    );
    const rewarded = await personalizer("POST", "/multislot/events/ms-e2e-1/reward", {
      reward: [
        { slotId: "Main Article", value: 0.5 },
        { slotId: "Side Bar", value: 0.6 },
      ],
    });
    expect(rewarded.status).toBe(example("multislot-reward.json").status);
    expect(rewarded.headers.get("loopwise-status")).toBe("accepted,accepted");
    expect((await decision("ms-e2e-1:1")).rewards[0].value).toBe(0.6);
  });

  it("service configuration and Personalizer-shaped errors", async () => {
    const config = await personalizer("GET", "/configurations/service");
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({ rewardWaitTime: "00:10:00", defaultReward: 0, rewardAggregation: "earliest" });
    const bad = await personalizer("POST", "/rank", { actions: [] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "BadRequest", target: "actions" });
  });

  it("an exported log imported while the server runs warm-starts a new policy (the migration doc's steps)", async () => {
    const root = join(import.meta.dirname, "../..");
    const stdout = await runCli(["import", join(root, "spec/ope/dsjson-sample.dsjson"), "--data-dir", dataDir]);
    expect(stdout).toContain("imported 4 decisions");
    const res = await fetch(`${server.url}/v1/policies`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "from-personalizer", type: "thompson", warmStart: true }),
    });
    expect(res.status).toBe(201);
    // The four imported events; this test's own decisions are inside their reward window, so not yet used.
    expect((await res.json()).warmStart).toMatchObject({ decisions: 4, rounds: 4 });
  }, 30_000);
});
