import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { createEngine } from "./engine.js";

describe("engine events", () => {
  it("announce logged decisions, stored rewards and inserted events; a failing listener fails nothing", async () => {
    const engine = await createEngine({
      dataDir: ":memory:",
      clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
      logger: pino({ level: "silent" }),
    });
    const seen: string[] = [];
    engine.parts.emitter.on("decision", () => {
      throw new Error("a broken observer");
    });
    const off = engine.parts.emitter.on("decision", (d) => seen.push(`decision:${d.decisionId}`));
    engine.parts.emitter.on("reward", ({ reward, outcome }) => seen.push(`reward:${reward.rewardId}:${outcome}`));
    engine.parts.emitter.on("events", (events) => seen.push(`events:${events.map((e) => e.eventId).join(",")}`));
    const res = await engine.rank({ userId: "u", candidates: [{ id: "a" }, { id: "b" }], decisionId: "d1" });
    expect(res.decisionId).toBe("d1");
    await engine.reward("d1", { value: 1, rewardId: "r1" });
    await engine.ingestEvents({ events: [{ type: "view", userId: "u", eventId: "e1" }] });
    await engine.ingestEvents({ events: [{ type: "view", userId: "u", eventId: "e1" }] }); // a duplicate: nothing new
    off();
    await engine.rank({ userId: "u", candidates: [{ id: "a" }], decisionId: "d2" });
    expect(seen).toEqual(["decision:d1", "reward:r1:accepted", "events:e1"]);
    await engine.close();
  });

  it("shows the SQLite event dedup window on /metrics: the ids it holds, and its age", async () => {
    const engine = await createEngine({
      dataDir: ":memory:",
      config: { ingest: { dedupWindow: 2 } },
      logger: pino({ level: "silent" }),
    });
    const metrics = async () => await engine.metrics.registry.metrics();
    expect(await metrics()).toMatch(/^loopwise_log_writer_dedup_window_ids 0$/m);
    const ingest = (...ids: string[]) =>
      engine.ingestEvents({ events: ids.map((eventId) => ({ type: "view", userId: "u", eventId })) });
    await ingest("e1", "e2", "e3");
    expect(await metrics()).toMatch(/^loopwise_log_writer_dedup_window_ids 2$/m);
    expect(await metrics()).toMatch(/^loopwise_log_writer_dedup_window_oldest_age_seconds \d/m);
    // e1 fell out of a window of 2: logged again, where e3 is a duplicate.
    const again = await ingest("e1", "e3");
    expect(again.results.map((r) => r.status)).toEqual(["accepted", "duplicate"]);
    await engine.close();
  });
});
