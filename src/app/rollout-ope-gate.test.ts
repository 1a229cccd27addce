import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { HOUR, ManualClock } from "../core/clock.js";
import { stagePercent } from "../rollout/assign-arm.js";
import { createEngine, type Engine } from "./engine.js";
import { MIN_GATE_ROUNDS } from "./rollout-ope-gate.js";

let engine: Engine;
afterEach(async () => engine?.close());

/** Logs from the uniform policy where only item "a" is ever clicked: candidate and incumbent values are known. */
async function logUniform(e: Engine, clock: ManualClock, n: number) {
  const candidates = [{ id: "c" }, { id: "b" }, { id: "a" }];
  for (let i = 0; i < n; i++) {
    const res = await e.rank({ userId: `u${i}`, candidates, slots: 1, policyId: "uniform" });
    await e.reward(res.decisionId, { value: res.ranking[0]?.id === "a" ? 1 : 0 });
  }
  clock.advance(HOUR);
}

describe("the rollout's OPE gate on the engine's own log", () => {
  it("rolls a candidate back before it serves anyone when its DR estimate is clearly worse", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({
      dataDir: ":memory:",
      clock,
      logger: pino({ level: "silent" }),
      config: { adminKey: "k".repeat(20) },
    });
    await logUniform(engine, clock, MIN_GATE_ROUNDS + 100);
    // "baseline" serves the first candidate ("c", never clicked): true value 0 vs the incumbent's 1/3.
    await engine.parts.policies.register({ id: "always-first", type: "baseline" });
    const rollouts = engine.parts.rollouts!;
    const bad = await rollouts.start({ candidate: "always-first", incumbent: "uniform" });
    await engine.tick();
    const status = await rollouts.status(bad.id);
    expect(status.rollout.status).toBe("rolled_back");
    expect(JSON.stringify(status.history)).toContain("ope_gate_failed");
  });

  it("lets an equal candidate start its first stage", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
    await logUniform(engine, clock, MIN_GATE_ROUNDS + 100);
    await engine.parts.policies.register({ id: "uniform-2", type: "uniform" });
    const rollouts = engine.parts.rollouts!;
    const same = await rollouts.start({ candidate: "uniform-2", incumbent: "uniform" });
    await engine.tick();
    const status = await rollouts.status(same.id);
    expect(status.rollout.status).toBe("running");
    expect(stagePercent(status.rollout)).toBe(1);
    expect(JSON.stringify(status.history)).toContain("ope_gate_passed");
  });
});
