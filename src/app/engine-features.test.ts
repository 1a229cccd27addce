import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { Engine } from "./engine.js";
import { createTestEngine } from "./test-engine.js";

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function engine(config: Record<string, unknown> = {}, clock = new ManualClock(Date.UTC(2026, 10, 27, 12))) {
  // In-process stream adapters (createTestEngine): with Redis configured the engine appends to the stream, and
  // this test is about the feature store only.
  const e = await createTestEngine({ clock, config });
  engines.push(e);
  return e;
}

async function clickThenRank(e: Engine, userId: string) {
  await e.ingestEvents({ events: [{ type: "view", userId, itemId: "a", category: "shoes" }] });
  await e.ingestEvents({ events: [{ type: "click", userId, itemId: "b", category: "bags" }] });
  const { decisionId } = await e.rank({ userId, candidates: [{ id: "x" }, { id: "y" }] });
  return (await e.decisions.get(decisionId))?.decision;
}

describe("read-your-writes: an event shapes the very next decision", () => {
  it("memory feature store: the logged feature snapshot already holds the click", async () => {
    const decision = await clickThenRank(await engine(), "u1");
    expect(decision?.features).toMatchObject({
      session_count_click: 1,
      session_count_view: 1,
      secs_since_last_click: 0,
    });
    expect(decision?.features.last_category_0).toBeDefined();
  });

  const redisUrl = process.env.LOOPWISE_TEST_REDIS_URL;
  if (!redisUrl)
    console.warn("engine-features.test: LOOPWISE_TEST_REDIS_URL unset, skipping the Redis-backed engine test");
  it.skipIf(!redisUrl)("redis feature store: two engines (two API processes) share one user's features", async () => {
    const prefix = `lwtest${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    const config = { storage: { redisUrl, redisPrefix: prefix } };
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    const writer = await engine(config, clock);
    const reader = await engine(config, clock);
    await writer.ingestEvents({ events: [{ type: "click", userId: "shared", itemId: "b", category: "bags" }] });
    const { decisionId } = await reader.rank({ userId: "shared", candidates: [{ id: "x" }] });
    const decision = (await reader.decisions.get(decisionId))?.decision;
    expect(decision?.features).toMatchObject({ session_count_click: 1 });
    await writer.parts.features?.clear();
  });
});
