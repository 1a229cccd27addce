import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PersonalizerClient } from "@azure/cognitiveservices-personalizer";
import { ApiKeyCredentials } from "@azure/ms-rest-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDecision, killHard, randomPort, runCli, type ServerProcess, startServerProcess } from "./server-process.js";

/**
 * Azure's own JavaScript SDKs for Personalizer, unchanged but for the endpoint, against a real server with a
 * client-scoped key: `@azure/cognitiveservices-personalizer` (v1.0: rank, reward, activate) and
 * `@azure-rest/ai-personalizer` (v1.1-preview.3, the multi-slot routes). What they send and parse is theirs,
 * not ours: a shape Loopwise gets wrong fails here even where our own tests agree with our reading of the spec.
 */
// A CommonJS package whose default export is `exports.default`: required, so Node and vitest read it alike.
const { default: createRestClient, isUnexpected } = createRequire(import.meta.url)(
  "@azure-rest/ai-personalizer",
) as typeof import("@azure-rest/ai-personalizer");

const adminKey = `lw_test_${"s".repeat(24)}`;
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-personalizer-sdk-"));
let server: ServerProcess;
let clientKey: string;

beforeAll(async () => {
  server = await startServerProcess(dataDir, randomPort(), { LOOPWISE_ADMIN_KEY: adminKey });
  clientKey = (await runCli(["keys", "create", "--scope", "client", "--name", "sdk", "--data-dir", dataDir])).trim();
}, 60_000);
afterAll(async () => {
  if (server) await killHard(server.child);
  rmSync(dataDir, { recursive: true, force: true });
});

const actions = [
  { id: "NewsArticle", features: [{ type: "News", length: 300 }] },
  { id: "SportsArticle", features: [{ type: "Sports" }] },
  { id: "EntertainmentArticle", features: [{ type: "Entertainment" }] },
];

const decision = (id: string) => getDecision(server.url, adminKey, id);

describe("Azure's Personalizer SDKs against a real server", () => {
  it("@azure/cognitiveservices-personalizer: rank, reward, deferred activation and errors", async () => {
    const credentials = new ApiKeyCredentials({ inHeader: { "Ocp-Apim-Subscription-Key": clientKey } });
    const client = new PersonalizerClient(credentials, server.url);
    const ranked = await client.rank({
      contextFeatures: [{ timeOfDay: "Morning" }, { user: { device: "mobile", visits: 3 } }],
      actions,
      excludedActions: ["SportsArticle"],
      eventId: "sdk-v1-1",
    });
    expect(ranked._response.status).toBe(201);
    expect(ranked.eventId).toBe("sdk-v1-1");
    expect(ranked.rewardActionId).not.toBe("SportsArticle");
    const served = ranked.ranking?.find((r) => r.id === ranked.rewardActionId);
    expect(ranked.ranking?.find((r) => r.id === "SportsArticle")?.probability).toBe(0);
    const rewarded = await client.events.reward("sdk-v1-1", { value: 1 });
    expect(rewarded._response.status).toBe(204);
    const logged = await decision("sdk-v1-1");
    expect(logged.slots[0]).toMatchObject({ itemId: ranked.rewardActionId, propensity: served?.probability });
    expect(logged.context).toMatchObject({ timeOfDay: "Morning", "user.device": "mobile", "user.visits": 3 });
    expect(logged.rewards.map((r: { value: number }) => r.value)).toEqual([1]);

    // Personalizer's own quickstart: action ids with spaces ("ice cream"), features as a list of objects.
    const quickstart = await client.rank({
      contextFeatures: [{ time: "morning" }, { taste: "sweet" }],
      actions: [
        {
          id: "pasta",
          features: [
            { taste: "salty", spiceLevel: "medium" },
            { nutritionLevel: 5, cuisine: "italian" },
          ],
        },
        { id: "ice cream", features: [{ taste: "sweet", spiceLevel: "none" }, { nutritionalLevel: 2 }] },
        { id: "juice", features: [{ taste: "sweet", spiceLevel: "none" }, { nutritionLevel: 5 }, { drink: true }] },
        { id: "salad", features: [{ taste: "salty", spiceLevel: "low" }, { nutritionLevel: 8 }] },
      ],
    });
    expect(quickstart._response.status).toBe(201);
    expect(quickstart.ranking?.map((r) => r.id).sort()).toEqual(["ice cream", "juice", "pasta", "salad"]);
    await client.events.reward(quickstart.eventId as string, { value: 1 });

    const deferred = await client.rank({ actions, deferActivation: true });
    expect(deferred.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await client.events.activate(deferred.eventId as string))._response.status).toBe(204);

    // The SDK throws a RestError carrying Personalizer's ErrorResponse, parsed as its generated client does.
    const refused = await client.rank({ actions: [] }).catch((e: { statusCode: number; code: string }) => e);
    expect(refused).toMatchObject({ statusCode: 400, code: "BadRequest" });
    const wrongKey = new PersonalizerClient(
      new ApiKeyCredentials({ inHeader: { "Ocp-Apim-Subscription-Key": "not-a-key" } }),
      server.url,
    );
    const denied = await wrongKey.rank({ actions }).catch((e: { statusCode: number; code: string }) => e);
    expect(denied).toMatchObject({ statusCode: 401, code: "Unauthorized" });
  });

  it("@azure-rest/ai-personalizer: multi-slot rank, activate, per-slot rewards; an unserved route's 404", async () => {
    const client = createRestClient(server.url, { key: clientKey }, { allowInsecureConnection: true });
    const ranked = await client.path("/multislot/rank").post({
      body: {
        contextFeatures: [{ timeOfDay: "Evening" }],
        actions,
        slots: [
          { id: "Main", baselineAction: "NewsArticle", features: [{ size: "Large" }] },
          { id: "Side", baselineAction: "SportsArticle", excludedActions: ["NewsArticle"] },
        ],
        eventId: "sdk-ms-1",
        deferActivation: true,
      },
    });
    if (isUnexpected(ranked))
      throw new Error(`multi-slot rank answered ${ranked.status}: ${ranked.body.error.message}`);
    expect(ranked.status).toBe("201");
    const [main, side] = ranked.body.slots;
    expect(main?.id).toBe("Main");
    expect(side?.rewardActionId).not.toBe("NewsArticle");
    expect(side?.rewardActionId).not.toBe(main?.rewardActionId);
    const early = await client.path("/multislot/events/{eventId}/reward", "sdk-ms-1").post({
      body: { reward: [{ slotId: "Main", value: 1 }] },
    });
    expect(early.headers["loopwise-status"]).toBe("not_activated");
    expect((await client.path("/multislot/events/{eventId}/activate", "sdk-ms-1").post()).status).toBe("204");
    const rewarded = await client.path("/multislot/events/{eventId}/reward", "sdk-ms-1").post({
      body: {
        reward: [
          { slotId: "Main", value: 1 },
          { slotId: "Side", value: 0.25 },
        ],
      },
    });
    expect(rewarded.status).toBe("204");
    expect(rewarded.headers["loopwise-status"]).toBe("accepted,accepted");
    expect((await decision("sdk-ms-1:1")).rewards[0].value).toBe(0.25);
    expect((await decision("sdk-ms-1:0")).context).toMatchObject({ "slot.id": "Main", "slot.size": "Large" });

    const unserved = await client.path("/evaluations").get();
    expect(unserved.status).toBe("404");
    expect(unserved.body).toMatchObject({ error: { code: "ResourceNotFound" } });
  });
});
