import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOUR, ManualClock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import type { OpeGate } from "../rollout/rollout-types.js";
import { MemoryRolloutStore } from "../storage/memory/rollout-store.js";
import { SqliteRolloutStore } from "../storage/sqlite/rollout-store.js";
import type { RolloutRouter } from "./ports.js";
import type { CreateRolloutInput } from "./rollout-controller.js";
import { RolloutController } from "./rollout-controller.js";
import type { ArmTruth, TrafficOptions } from "./rollout-traffic.js";
import { RolloutTraffic } from "./rollout-traffic.js";

const base: ArmTruth = { ctr: 0.3, conversion: 0.1, value: 40 };
const plan: CreateRolloutInput = { candidate: "cand", incumbent: "inc", minHoldMs: 6 * HOUR, minSamplePerArm: 1000 };
const goodGate: OpeGate = async () => ({
  candidate: { value: 0.31, ci: [0.3, 0.32] },
  incumbent: { value: 0.3, ci: [0.29, 0.31] },
  n: 5000,
});
const dir = mkdtempSync(join(tmpdir(), "loopwise-rollout-ctl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(store: RolloutStore = new MemoryRolloutStore(), opeGate: OpeGate = goodGate) {
  const clock = new ManualClock();
  const controller = await RolloutController.open({ store, clock, opeGate, newId: () => "ro_test" });
  return { clock, controller, store };
}

function traffic(c: RolloutController, clock: ManualClock, candidate: ArmTruth, extra: Partial<TrafficOptions> = {}) {
  return new RolloutTraffic(c, clock, {
    seed: "t",
    users: 5000,
    sessionsPerStep: 5000,
    decisionsPerSession: 4,
    incumbentPolicy: "inc",
    truth: { candidate, incumbent: base },
    ...extra,
  });
}

/** Ticks, then plays one hour of traffic, until the rollout ends or `hours` pass. */
async function run(c: RolloutController, t: RolloutTraffic, id: string, hours: number) {
  for (let h = 0; h < hours; h++) {
    await c.tick();
    if (!["running", "paused"].includes((await c.getOrThrow(id)).status)) break;
    t.step(HOUR);
  }
  return c.getOrThrow(id);
}

describe("RolloutController with simulated traffic", () => {
  it("refuses a start without an incumbent when there is no default policy to take, storing nothing", async () => {
    const { controller } = await setup();
    await expect(controller.start({ candidate: "cand", opeGate: false })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      errors: [{ path: "incumbent", message: expect.stringMatching(/no default policy/) }],
    });
    expect(await controller.list()).toEqual([]);
  });

  it("promotes a better candidate to 100 % after each stage holds, with an audit trail", async () => {
    const { clock, controller } = await setup();
    const r = await controller.create({ ...plan, minSamplePerArm: 500 });
    const start = clock.now();
    const t = traffic(controller, clock, { ...base, ctr: 0.33 }, { sessionsPerStep: 2500 });
    const done = await run(controller, t, r.id, 40);
    expect(done.status).toBe("completed");
    expect(done.candidateShare).toBe(1);
    const history = await controller.history(r.id);
    const timeline = history.map((e) => `${e.action}->${e.toStage}%@${(e.at - start) / HOUR}h`);
    console.log(`[rollout] promotion timeline (6 h hold, 10k decisions/h): ${timeline.join(", ")}`);
    expect(history.map((e) => e.action)).toEqual(["create", "advance", "advance", "advance", "complete"]);
    expect(history.map((e) => e.toStage)).toEqual([0, 1, 10, 50, 100]);
    expect(history[1]?.reasons[0]?.code).toBe("ope_gate_passed");
    for (const e of history.slice(2)) expect(e.at - start).toBeGreaterThanOrEqual(6 * HOUR);
    expect(history[4]?.stats).toMatchObject({ counters: { candidate: { decisions: expect.any(Number) } } });
    // Without an onPromote hook the completed rollout keeps serving the candidate to everyone.
    expect(controller.route("u1")).toEqual({ rolloutId: r.id, stage: 100, arm: "candidate", policyId: "cand" });
  });

  it("rolls back a candidate 10 % worse on CTR during the 1 % or 10 % stage, at once", async () => {
    const { clock, controller } = await setup();
    const r = await controller.create(plan);
    const start = clock.now();
    const done = await run(controller, traffic(controller, clock, { ...base, ctr: 0.27 }), r.id, 40);
    expect(done.status).toBe("rolled_back");
    expect(done.candidateShare).toBe(0);
    const history = await controller.history(r.id);
    const rollback = history[history.length - 1];
    expect(rollback?.action).toBe("rollback");
    expect([1, 10]).toContain(rollback?.fromStage);
    expect(rollback?.reasons.map((x) => x.metric)).toContain("ctr");
    console.log(
      `[rollout] 10 % worse CTR rolled back at ${rollback?.fromStage}% after ${((rollback?.at ?? 0) - start) / HOUR} h`,
    );
    expect(controller.route("u1")).toBeUndefined(); // everyone back on the incumbent
  });

  it("halts on a sample-ratio mismatch when the assignment is broken", async () => {
    const { clock, controller } = await setup();
    const r = await controller.create({ ...plan, stages: [10, 50, 100] });
    // Broken: half of the candidate's users are served (and logged) as incumbent.
    const route = (p: string, u: string) => {
      const ok = controller.routeFor(p, u);
      if (ok?.arm !== "candidate" || Number(u.slice(1)) % 2 === 0) return ok;
      return { ...ok, arm: "incumbent" as const, policyId: "inc" };
    };
    const done = await run(controller, traffic(controller, clock, base, { route }), r.id, 20);
    expect(done.status).toBe("halted");
    expect(done.candidateShare).toBe(0);
    const last = (await controller.history(r.id)).at(-1);
    expect(last?.reasons[0]).toMatchObject({ code: "srm", plannedShare: 0.1 });
    expect(Number(last?.reasons[0]?.sequentialPValue)).toBeLessThan(0.001);
  });

  it("a restart on the same store resumes the same stage, counters and assignments", async () => {
    const store = new SqliteRolloutStore(join(dir, "restart.db"));
    const first = await setup(store);
    const r = await first.controller.create({ ...plan, minSamplePerArm: 300 });
    const t = traffic(first.controller, first.clock, { ...base, ctr: 0.33 }, { sessionsPerStep: 2000 });
    for (let h = 0; h < 9; h++) {
      await first.controller.tick();
      t.step(HOUR);
    }
    await first.controller.tick();
    const before = await first.controller.getOrThrow(r.id);
    expect(before.candidateShare).toBe(0.1);
    const stats = first.controller.stats(r.id);
    const routes = Array.from({ length: 2000 }, (_, i) => first.controller.route(`u${i}`));
    await store.close();

    const store2 = new SqliteRolloutStore(join(dir, "restart.db"));
    const clock2 = new ManualClock(first.clock.now());
    const second = await RolloutController.open({
      store: store2,
      clock: clock2,
      opeGate: goodGate,
      newId: () => "other",
    });
    expect(await second.getOrThrow(r.id)).toEqual(before);
    expect(second.stats(r.id)).toEqual(stats);
    expect(Array.from({ length: 2000 }, (_, i) => second.route(`u${i}`))).toEqual(routes);
    const done = await run(
      second,
      traffic(second, clock2, { ...base, ctr: 0.33 }, { seed: "after", sessionsPerStep: 2000 }),
      r.id,
      30,
    );
    expect(done.status).toBe("completed");
    await store2.close();
  });
});

describe("RolloutController manual operations and the OPE gate", () => {
  it("pause holds advancing, resume and advance move on, abort sends everyone back", async () => {
    const { clock, controller } = await setup();
    const r = await controller.create({ ...plan, opeGate: false, minSamplePerArm: 0 });
    await controller.tick();
    expect((await controller.pause(r.id)).status).toBe("paused");
    clock.advance(7 * HOUR);
    const [held] = await controller.tick();
    expect(held?.decision.action).toBe("hold");
    expect(held?.decision.reasons.map((x) => x.code)).toContain("paused");
    await expect(controller.pause(r.id)).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await controller.resume(r.id)).status).toBe("running");
    expect((await controller.advance(r.id)).candidateShare).toBe(0.1);
    expect((await controller.abort(r.id)).status).toBe("aborted");
    expect(controller.routeFor("inc", "u1")).toBeUndefined();
    await expect(controller.resume(r.id)).rejects.toBeInstanceOf(LoopwiseError);
    const actions = (await controller.history(r.id)).map((e) => `${e.actor}:${e.action}`);
    expect(actions).toEqual([
      "admin:create",
      "auto:advance",
      "admin:pause",
      "admin:resume",
      "admin:manual_advance",
      "admin:abort",
    ]);
    await expect(controller.getOrThrow("nope")).rejects.toMatchObject({ code: "ROLLOUT_NOT_FOUND" });
  });

  it("rolls back before the first stage when the OPE gate fails, and skips it when logs do not suffice", async () => {
    const bad: OpeGate = async () => ({
      candidate: { value: 0.2, ci: [0.18, 0.22] },
      incumbent: { value: 0.3, ci: [0.29, 0.31] },
      n: 9000,
    });
    const a = await setup(new MemoryRolloutStore(), bad);
    const r = await a.controller.create(plan);
    const [res] = await a.controller.tick();
    expect(res?.decision.action).toBe("rollback");
    expect(res?.decision.reasons[0]?.code).toBe("ope_gate_failed");
    expect((await a.controller.getOrThrow(r.id)).status).toBe("rolled_back");

    const b = await setup(new MemoryRolloutStore(), async () => undefined);
    const r2 = await b.controller.create(plan);
    const [res2] = await b.controller.tick();
    expect(res2?.decision.reasons[0]?.code).toBe("ope_gate_skipped");
    expect((await b.controller.getOrThrow(r2.id)).candidateShare).toBe(0.01);
  });

  it("calls onPromote once at completion and stops routing", async () => {
    const promoted: string[] = [];
    const clock = new ManualClock();
    const onPromote = async (r: { candidate: string }) => {
      promoted.push(r.candidate);
    };
    const controller = await RolloutController.open({ store: new MemoryRolloutStore(), clock, onPromote });
    const r = await controller.create({ ...plan, opeGate: false, stages: [50, 100] });
    await controller.tick();
    expect(controller.route("u1")?.stage).toBe(50);
    expect((await controller.advance(r.id)).status).toBe("completed");
    await controller.tick();
    expect(promoted).toEqual(["cand"]);
    expect(controller.route("u1")).toBeUndefined();
  });

  it("rejects invalid plans with field errors", async () => {
    const { controller } = await setup();
    await expect(controller.create({ ...plan, stages: [10, 5] })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      errors: [{ path: "stages[1]", message: expect.stringContaining("increase") }],
    });
    await expect(controller.create({ ...plan, candidate: "inc" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("RolloutController as the app's RolloutRouter", () => {
  it("fits the port rank and ingest call", async () => {
    const { controller } = await setup();
    const router: RolloutRouter = controller;
    expect(router.route("u1", 0)).toBeUndefined();
    const r = await controller.create({ ...plan, opeGate: false, stages: [50, 100] });
    await controller.tick();
    const served = Array.from({ length: 200 }, (_, i) => router.route(`u${i}`, 0));
    expect(served.every((x) => x?.rolloutId === r.id && x.stage === 50)).toBe(true);
    const cand = served.find((x) => x?.arm === "candidate");
    expect(cand?.policyId).toBe("cand");
    expect(served.find((x) => x?.arm === "incumbent")?.policyId).toBe("inc");
    router.onDecision({ rolloutId: r.id, arm: "candidate", userId: "u1", timestamp: 1 });
    router.onEvent({ eventId: "e1", type: "click", userId: "u1", sessionId: "", timestamp: 2 });
    expect(controller.stats(r.id)?.arms.candidate).toMatchObject({ decisions: 1, sessions: 1, clickedDecisions: 1 });
  });

  it("routes users by a salt given in the API body, so two rollouts with one salt split users alike", async () => {
    const arms = async (salt: string | undefined, id: string) => {
      const store = new MemoryRolloutStore();
      const clock = new ManualClock();
      const controller = await RolloutController.open({ store, clock, opeGate: goodGate, newId: () => id });
      const body = {
        candidate: "cand",
        incumbent: "inc",
        stages: [50, 100],
        opeGate: false,
        ...(salt ? { salt } : {}),
      };
      const r = await controller.start(body);
      expect(r.salt).toBe(salt);
      expect((await store.get(id))?.salt).toBe(salt);
      await controller.tick();
      return Array.from({ length: 400 }, (_, i) => controller.route(`u${i}`, 0)?.arm);
    };
    const salted = await arms("exp-1", "ro_a");
    expect(await arms("exp-1", "ro_b")).toEqual(salted);
    expect(await arms(undefined, "ro_b")).not.toEqual(await arms(undefined, "ro_a"));
    const { controller } = await setup();
    await expect(controller.start({ candidate: "cand", incumbent: "inc", salt: "bad salt!" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      errors: [expect.objectContaining({ path: "salt" })],
    });
  });
});
