import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import { MemoryEventLog } from "../storage/memory/event-log-memory.js";
import { parseConfig } from "./config.js";
import { createEngine, type Engine } from "./engine.js";
import { EngineRecommender } from "./recommender.js";

const logger = pino({ level: "silent" });
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined; // a test without an engine must not close the previous one again
});

/** Sessions where item i is always followed by item i+1 (a ring of 12 items): the next item is learnable. */
async function seed(e: Engine, clock: ManualClock, users = 40) {
  await e.upsertItems({ items: Array.from({ length: 12 }, (_, i) => ({ id: `i${i}`, category: `c${i % 3}` })) });
  for (let u = 0; u < users; u++) {
    const start = u % 12;
    const events = Array.from({ length: 5 }, (_, k) => ({
      type: "view",
      userId: `seed${u}`,
      sessionId: `s${u}`,
      itemId: `i${(start + k) % 12}`,
      timestamp: clock.now() + k * 1000,
    }));
    await e.ingestEvents({ events });
  }
  clock.advance(MINUTE);
}

describe("rank uses the session recommender", () => {
  it("generates candidates from the user's session, never excluded or unavailable items", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger });
    await seed(engine, clock);
    const noModel = await engine.rank({ userId: "cold", slots: 3 });
    expect(noModel.candidateSource).toBe("catalog");
    expect(noModel.fallbacks).toContain("no_model");
    const model = await engine.recommender?.train();
    expect(model?.version).toBeDefined();
    await engine.upsertItems({ items: [{ id: "i6", available: false }] });
    await engine.ingestEvents({
      events: [
        { type: "view", userId: "me", sessionId: "x", itemId: "i3" },
        { type: "view", userId: "me", sessionId: "x", itemId: "i4" },
      ],
    });
    const res = await engine.rank({ userId: "me", slots: 5, exclude: ["i7"] });
    expect(res.candidateSource).toBe("recommender");
    expect(res.modelVersion).toBe(model?.version);
    const decision = (await engine.decisions.get(res.decisionId))?.decision;
    const ids = decision?.candidates.map((c) => c.id) ?? [];
    // The learned next item ranks at the top, beside the session's own items (repeats are legitimate).
    expect(ids.slice(0, 3)).toContain("i5");
    const score = (id: string) => decision?.candidates.find((c) => c.id === id)?.score ?? 0;
    expect(score("i5")).toBeGreaterThan(score("i9"));
    expect(ids).not.toContain("i6");
    expect(ids).not.toContain("i7");
    expect(decision?.candidates[0]?.score).toBeGreaterThan(0);
    const cold = await engine.rank({ userId: "nobody", slots: 2 });
    expect(cold.candidateSource).toBe("popular");
    expect(cold.fallbacks).toContain("recommender_popular");
  });

  it("retrains and swaps under concurrent rank traffic: every request succeeds with one model", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    const e = await createEngine({ dataDir: ":memory:", clock, logger });
    engine = e;
    await seed(e, clock);
    const first = await e.recommender!.train();
    await seed(e, clock, 60);
    const requests = Array.from({ length: 300 }, (_, i) => e.rank({ userId: `seed${i % 40}`, slots: 3 }));
    const retrained = engine.recommender!.train();
    const responses = await Promise.all(requests);
    const second = await retrained;
    expect(second.version).not.toBe(first.version);
    const versions = new Set(responses.map((r) => r.modelVersion));
    for (const v of versions) expect([first.version, second.version]).toContain(v);
    expect(responses.every((r) => r.ranking.length === 3)).toBe(true);
    expect((await engine.rank({ userId: "seed1", slots: 3 })).modelVersion).toBe(second.version);
  });

  it("retrains on the engine's clock", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger, config: { recommend: { retrainEvery: "1h" } } });
    await seed(engine, clock);
    const first = await engine.recommender!.train();
    clock.advance(61 * MINUTE);
    await engine.tick();
    await new Promise((r) => setTimeout(r, 50));
    await engine.recommender!.train(); // joins the tick's run if still going
    expect(engine.recommender!.holder.current()?.version).not.toBe(first.version);
  });

  it("a scale-out node does not train on its own: no first model at start, nothing on the clock", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    const events = new MemoryEventLog();
    await events.append(
      Array.from({ length: 20 }, (_, k) => ({
        eventId: `e${k}`,
        type: "view" as const,
        userId: `u${k % 4}`,
        sessionId: `s${k % 4}`,
        itemId: `i${k % 6}`,
        timestamp: clock.now() + k * 1000,
      })),
    );
    const config = parseConfig({ recommend: { retrainEvery: "1h" } });
    const open = (retrainsLocally: boolean) =>
      EngineRecommender.open(config, ":memory:", events, clock, logger, { retrainsLocally });
    const follower = await open(false);
    const local = await open(true); // the control: the same log trains a first model in the background
    clock.advance(61 * MINUTE);
    follower.tick();
    local.tick();
    await new Promise((r) => setTimeout(r, 100));
    expect(local.holder.current()).toBeDefined();
    expect(follower.holder.current()).toBeUndefined();
    await Promise.all([follower.close(), local.close()]);
  });
});
