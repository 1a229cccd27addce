import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import { createEngine, type Engine } from "./engine.js";

const logger = pino({ level: "silent" });
let engine: Engine;
afterEach(async () => engine?.close());

const candidates = [{ id: "good" }, { id: "meh" }, { id: "bad" }];

/**
 * The loop closes: the default policy (Thompson sampling) serves, clicks come back as events carrying the
 * decision id, unclicked slots get the default reward when their window closes, and the policy learns.
 */
describe("the default policy learns from joined rewards", () => {
  it("moves probability to the item that gets clicked", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger, config: { rewards: { window: "1m" } } });
    const first = await engine.rank({ userId: "u0", candidates, slots: 1 });
    expect(first.policy.type).toBe("thompson");
    const initialGood = (await engine.decisions.get(first.decisionId))?.decision.slots[0]?.probabilities[0] ?? 0;
    let goodShown = 0;
    for (let i = 0; i < 400; i++) {
      const userId = `u${i % 50}`;
      const res = await engine.rank({ userId, candidates, slots: 1 });
      const shown = res.ranking[0]?.id;
      if (i >= 300 && shown === "good") goodShown++;
      if (shown === "good") {
        await engine.ingestEvents({ events: [{ type: "click", userId, itemId: "good", decisionId: res.decisionId }] });
      }
      if (i % 20 === 19) {
        clock.advance(2 * MINUTE);
        await engine.tick(); // closes windows: unclicked decisions learn the default reward 0
      }
    }
    const last = await engine.rank({ userId: "u0", candidates, slots: 1 });
    const finalGood = (await engine.decisions.get(last.decisionId))?.decision.slots[0]?.probabilities[0] ?? 0;
    expect(initialGood).toBeLessThan(0.5);
    expect(finalGood).toBeGreaterThan(0.8);
    expect(goodShown).toBeGreaterThan(70); // of the last 100 decisions
    const metrics = await engine.metrics.registry.getSingleMetricAsString("loopwise_policy_updates_total");
    const updates = Number(/policy="default"\} (\d+)/.exec(metrics)?.[1]);
    expect(updates).toBeGreaterThanOrEqual(380); // every decision whose window closed, clicked or not
  });

  it("snapshots learned state and restores it at restart", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "loopwise-policy-"));
    try {
      const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
      const config = { rewards: { window: "1m" } };
      engine = await createEngine({ dataDir: dir, clock, logger, config });
      for (let i = 0; i < 30; i++) {
        const res = await engine.rank({ userId: "u", candidates, slots: 1 });
        await engine.reward(res.decisionId, { value: res.ranking[0]?.id === "good" ? 1 : 0 });
      }
      const before = engine.parts.policies.find("default")?.describe() as Record<string, unknown>;
      await engine.close();
      engine = await createEngine({ dataDir: dir, clock, logger, config });
      const after = engine.parts.policies.find("default")?.describe() as Record<string, unknown>;
      // Learning progress and version survive; the runtime sample-pool cache starts empty.
      expect(after.progress).toEqual(before.progress);
      expect(after.version).toBe(before.version);
      expect(JSON.stringify(after.progress)).toContain('"updates":30');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("an engine closed while a tick's window close pass runs saves what that pass learned", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "loopwise-close-pass-"));
    try {
      const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
      const config = { rewards: { window: "1m" } };
      engine = await createEngine({ dataDir: dir, clock, logger, config });
      for (let i = 0; i < 200; i++) await engine.rank({ userId: `u${i}`, candidates, slots: 1 });
      clock.advance(2 * MINUTE);
      // 200 ended windows: a pass of several turns (16 windows a turn at most), not awaited before the close.
      const ticking = engine.tick();
      await engine.close();
      await ticking;
      const learned = engine.parts.policies.find("default")!.updates;
      expect(learned).toBe(200);
      engine = await createEngine({ dataDir: dir, clock, logger, config });
      expect(engine.parts.policies.find("default")!.updates).toBe(learned);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
