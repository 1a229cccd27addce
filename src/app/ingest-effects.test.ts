import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isLoopwiseError } from "../core/errors.js";
import type { FeatureStore } from "../features/feature-store.js";
import type { Engine } from "./engine.js";
import { createTestEngine } from "./test-engine.js";

/** Issue 14, defect 9: a retried ingest completes the effects a failure left undone. */
let engine: Engine;
let failures: number;

beforeEach(async () => {
  engine = await createTestEngine();
  const store = engine.parts.features as FeatureStore;
  const apply = store.apply.bind(store);
  failures = 0;
  // A feature store that fails the next `failures` applies (a Redis hiccup), after the event log write.
  store.apply = async (events) => {
    if (failures > 0) {
      failures--;
      throw new Error("connection reset");
    }
    return apply(events);
  };
});
afterEach(async () => engine.close());

const candidates = [{ id: "a" }, { id: "b" }];

async function ingestFails(body: unknown): Promise<unknown> {
  try {
    await engine.ingestEvents(body);
  } catch (error) {
    return error;
  }
  throw new Error("expected the ingest to fail");
}

describe("ingest effects after a failure between the durable write and the feature update", () => {
  it("applies the features and joins the reward when the same batch is retried", async () => {
    await engine.rank({ userId: "u", candidates, decisionId: "d1" });
    const batch = {
      events: [
        { type: "view", userId: "u", itemId: "a", eventId: "e1" },
        { type: "click", userId: "u", itemId: "a", decisionId: "d1", eventId: "e2" },
      ],
    };
    failures = 1;
    const error = await ingestFails(batch);
    expect(isLoopwiseError(error) && error.code).toBe("UNAVAILABLE");
    expect(await engine.parts.events.count()).toBe(2); // durable before the failure
    const before = await engine.parts.features?.read("u", engine.clock.now());
    expect(before?.known).toBe(false);

    const retry = await engine.ingestEvents(batch);
    expect(retry).toMatchObject({ accepted: 2, duplicates: 0, rewardsJoined: 1 });
    const after = await engine.parts.features?.read("u", engine.clock.now());
    expect(after?.aggregates.session_count_view).toBe(1);
    expect(after?.aggregates.session_count_click).toBe(1);
    const decision = await engine.decisions.get("d1");
    expect(decision?.rewards.map((r) => r.value)).toEqual([1]);

    // Once complete, a further retry is a plain duplicate and changes nothing.
    expect(await engine.ingestEvents(batch)).toMatchObject({ accepted: 0, duplicates: 2, rewardsJoined: 0 });
    const again = await engine.parts.features?.read("u", engine.clock.now());
    expect(again?.aggregates.session_count_view).toBe(1);
  });

  it("keeps the effects pending through repeated failures", async () => {
    const batch = { events: [{ type: "view", userId: "u", itemId: "a", eventId: "e1" }] };
    failures = 2;
    await ingestFails(batch);
    await ingestFails(batch);
    expect(engine.parts.pendingEffects.size).toBe(1);
    expect(await engine.ingestEvents(batch)).toMatchObject({ accepted: 1 });
    expect(engine.parts.pendingEffects.size).toBe(0);
    expect((await engine.parts.features?.read("u", engine.clock.now()))?.aggregates.session_count_view).toBe(1);
  });

  it("completes a batch of fresh events answering no decision (the path without pending entries), once", async () => {
    const batch = {
      events: [
        { type: "view", userId: "u", itemId: "a", eventId: "p1" },
        { type: "view", userId: "v", itemId: "b", eventId: "p2" },
        { type: "click", userId: "u", itemId: "a", eventId: "p3" },
      ],
    };
    failures = 1;
    await ingestFails(batch);
    expect(engine.parts.pendingEffects.size).toBe(3);
    expect(await engine.ingestEvents(batch)).toMatchObject({ accepted: 3, duplicates: 0 });
    expect(engine.parts.pendingEffects.size).toBe(0);
    expect(await engine.ingestEvents(batch)).toMatchObject({ accepted: 0, duplicates: 3 });
    const u = await engine.parts.features?.read("u", engine.clock.now());
    expect(u?.aggregates.session_count_view).toBe(1);
    expect(u?.aggregates.session_count_click).toBe(1);
    const v = await engine.parts.features?.read("v", engine.clock.now());
    expect(v?.aggregates.session_count_view).toBe(1);
  });

  it("joins a reward whose event was stored by an attempt that died before its effects, once", async () => {
    await engine.rank({ userId: "u", candidates, decisionId: "d1" });
    const click = { type: "click", userId: "u", itemId: "a", decisionId: "d1", eventId: "e2" };
    // The crash window: the log holds the event (as the killed attempt committed it), no effect ran, and the
    // process that knew it was pending is gone.
    await engine.parts.events.append([{ ...click, timestamp: engine.clock.now() }]);
    const retry = await engine.ingestEvents({ events: [click] });
    expect(retry).toMatchObject({ accepted: 0, duplicates: 1, rewardsJoined: 1 });
    expect((await engine.decisions.get("d1"))?.rewards.map((r) => r.rewardId)).toEqual(["event:e2"]);
    // Retried again, also twice at once: the reward id is the rewards' key, nothing joins twice.
    const again = await Promise.all([
      engine.ingestEvents({ events: [click] }),
      engine.ingestEvents({ events: [click] }),
    ]);
    expect(again.map((r) => r.rewardsJoined)).toEqual([0, 0]);
    expect((await engine.decisions.get("d1"))?.rewards).toHaveLength(1);
  });
});

describe("ingest effects of the same batch sent twice at once", () => {
  it("updates the features and joins the reward once, whichever attempt stores the events", async () => {
    await engine.rank({ userId: "u", candidates, decisionId: "d1" });
    const batch = {
      events: [
        { type: "view", userId: "u", itemId: "a", eventId: "e1" },
        { type: "click", userId: "u", itemId: "a", decisionId: "d1", eventId: "e2" },
      ],
    };
    const answers = await Promise.all([engine.ingestEvents(batch), engine.ingestEvents(batch)]);
    expect(answers.map((a) => a.accepted + a.duplicates)).toEqual([2, 2]);
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(2);
    expect(answers.reduce((n, a) => n + a.rewardsJoined, 0)).toBe(1);
    const features = await engine.parts.features?.read("u", engine.clock.now());
    expect(features?.aggregates.session_count_view).toBe(1);
    expect(features?.aggregates.session_count_click).toBe(1);
    expect((await engine.decisions.get("d1"))?.rewards.map((r) => r.rewardId)).toEqual(["event:e2"]);
    // Nothing left pending once both answered: a later retry is a plain duplicate.
    expect(engine.parts.pendingEffects.size).toBe(0);
  });
});

describe("ingest effects after a failed reward join", () => {
  it("keeps only the unfinished event pending: a retry joins the reward and answers the finished one duplicate", async () => {
    await engine.rank({ userId: "u", candidates, decisionId: "d1" });
    const decisions = engine.parts.decisions;
    const addReward = decisions.addReward.bind(decisions);
    let joinFailures = 1;
    decisions.addReward = async (...args) => {
      if (joinFailures-- > 0) throw new Error("connection reset");
      return addReward(...args);
    };
    const batch = {
      events: [
        { type: "view", userId: "u", itemId: "a", eventId: "e1" },
        { type: "click", userId: "u", itemId: "a", decisionId: "d1", eventId: "e2" },
      ],
    };
    expect(isLoopwiseError(await ingestFails(batch)) && "UNAVAILABLE").toBe("UNAVAILABLE");
    // The view's effects all ran; only the click's reward join is missing.
    expect(engine.parts.pendingEffects.size).toBe(1);
    const retry = await engine.ingestEvents(batch);
    expect(retry.results.map((r) => r.status)).toEqual(["duplicate", "accepted"]);
    expect(retry.rewardsJoined).toBe(1);
    expect(engine.parts.pendingEffects.size).toBe(0);
    const features = await engine.parts.features?.read("u", engine.clock.now());
    expect(features?.aggregates.session_count_view).toBe(1);
    expect(features?.aggregates.session_count_click).toBe(1);
  });
});
