import { describe, expect, it } from "vitest";
import { DAY, ManualClock, systemClock } from "../../core/clock.js";
import { eventInputSchema } from "../../events/event-schema.js";
import type { RankResponse } from "../../server/api-types.js";
import type { SimReport } from "../report.js";
import { type SimEventBody, type SimRankBody, type SimTarget, TargetError } from "../target.js";
import { openInProcessTarget } from "../targets/in-process-target.js";
import { resolveScenario } from "../world/scenarios.js";
import { oracleSlate } from "../world/truth.js";
import { type SimContext, World } from "../world/world.js";
import { runSimulation } from "./run-simulation.js";

const T0 = Date.UTC(2026, 0, 5);

interface FakeLog {
  ranks: { body: SimRankBody; at: number; decisionId: string }[];
  events: { body: SimEventBody; at: number }[];
}

/** A tiny target for tests: ranks with `choose`, records every call, fails rank when `fail` says so. */
function fakeTarget(clock: { now(): number }, choose: (body: SimRankBody) => string[], fail?: (n: number) => boolean) {
  const log: FakeLog = { ranks: [], events: [] };
  const target: SimTarget = {
    kind: "fake",
    upsertItems: async (b) => ({ accepted: b.items.length, rejected: 0, results: [] }),
    ingestEvents: async (b) => {
      for (const e of b.events) log.events.push({ body: e, at: clock.now() });
      return { accepted: b.events.length, duplicates: 0, rejected: 0, rewardsJoined: 0, results: [] };
    },
    rank: async (body): Promise<RankResponse> => {
      if (fail?.(log.ranks.length)) {
        log.ranks.push({ body, at: clock.now(), decisionId: "" });
        throw new TargetError(503, "UNAVAILABLE", "down");
      }
      const decisionId = body.decisionId ?? `fake-${log.ranks.length}`;
      log.ranks.push({ body, at: clock.now(), decisionId });
      return {
        decisionId,
        policy: { id: "fake", type: "fake", version: 1 },
        ranking: choose(body).map((id, position) => ({ id, position, probability: 1 })),
        candidateSource: "request",
        fallbacks: [],
        activated: true,
      };
    },
    reward: async (decisionId) => ({ decisionId, rewardId: "r", status: "accepted" }),
    registerPolicy: async (b) => ({ id: b.id ?? "p" }),
    close: async () => undefined,
  };
  return { target, log };
}

const firstK = (b: SimRankBody) => (b.candidates ?? []).slice(0, b.slots ?? 4).map((c) => c.id);
const scenario = resolveScenario("default", { sessions: { perDay: 300 } });

async function runFake(choose = firstK, fail?: (n: number) => boolean, days = 2) {
  const clock = new ManualClock(T0);
  const { target, log } = fakeTarget(clock, choose, fail);
  const report = await runSimulation({
    scenario,
    target,
    mode: "fast",
    clock,
    durationMs: days * DAY,
    references: true,
  });
  return { report, log };
}

function stable(r: SimReport) {
  return { sessions: r.sessions, policies: r.policies, counts: Object.values(r.requests.byRoute).map((x) => x.count) };
}

describe("runSimulation (fast clock, fake target)", () => {
  it("sends valid API bodies, in time order, and counts what it sent", async () => {
    const { report, log } = await runFake();
    const p = report.policies[0]!;
    expect(p.decisions).toBe(log.ranks.length);
    expect(p.decisions).toBeGreaterThan(report.sessions);
    for (const { body } of log.events) expect(eventInputSchema.safeParse(body).success).toBe(true);
    const rankAt = new Map(log.ranks.map((r) => [r.decisionId, r.at]));
    const clicks = log.events.filter((e) => e.body.type === "click");
    expect(clicks.length).toBe(p.clicks);
    for (const c of clicks) expect(c.at).toBeGreaterThanOrEqual(rankAt.get(c.body.decisionId!)!);
    const purchases = log.events.filter((e) => e.body.type === "purchase");
    expect(purchases.length).toBe(p.purchases);
    for (const b of purchases) expect(b.body.value).toBe(b.body.price);
    expect(new Set(log.events.map((e) => e.body.eventId)).size).toBe(log.events.length);
  });

  it("is repeatable: the same seed gives the same report", async () => {
    const a = await runFake();
    const b = await runFake();
    expect(stable(b.report)).toEqual(stable(a.report));
    expect(b.log.events.map((e) => e.body.eventId)).toEqual(a.log.events.map((e) => e.body.eventId));
  });

  it("samples clicks from the true probabilities (realized CTR within 4 standard errors of the truth)", async () => {
    const { report } = await runFake(firstK, undefined, 4);
    const p = report.policies[0]!;
    const se = Math.sqrt((p.trueCtr * (1 - p.trueCtr)) / p.impressions);
    expect(Math.abs(p.ctr - p.trueCtr)).toBeLessThan(4 * se);
    expect(p.reference!.oracleCtr).toBeGreaterThan(p.reference!.popularityCtr);
  });

  it("gives a target serving the oracle's slate exactly the oracle's true CTR", async () => {
    const world = new World(scenario);
    const clock = new ManualClock(T0);
    // The fake rebuilds the visit from the request (user, device, segment) and the clock (hour).
    const oracle = (b: SimRankBody) => {
      const now = clock.now();
      const ctx: SimContext = {
        device: b.context?.device as SimContext["device"],
        hour: Math.floor((now % DAY) / 3_600_000),
        weekday: new Date(now).getUTCDay(),
        segment: String(b.context?.segment),
        time: now,
      };
      const items = (b.candidates ?? []).map((c) => world.itemById(c.id)!);
      return oracleSlate(world, world.userById(b.userId)!, ctx, items, b.slots ?? 4).map((i) => i.id);
    };
    const { target } = fakeTarget(clock, oracle);
    const report = await runSimulation({ scenario, target, mode: "fast", clock, durationMs: DAY, references: true });
    const p = report.policies[0]!;
    expect(p.trueCtr).toBeCloseTo(p.reference!.oracleCtr, 5);
    expect(p.trueCtr).toBeGreaterThan(p.reference!.popularityCtr);
  });

  it("records failed requests by code and keeps going", async () => {
    const { report } = await runFake(firstK, (n) => n % 10 === 3, 1);
    expect(report.errorsByCode.UNAVAILABLE).toBeGreaterThan(0);
    expect(report.requests.byRoute.rank!.errors).toBe(report.errorsByCode.UNAVAILABLE);
    expect(report.policies[0]!.decisions).toBeGreaterThan(0);
  });
});

describe("runSimulation (real time)", () => {
  it("runs a short bounded real-time burst to completion", async () => {
    const fast = resolveScenario("default", {
      sessions: {
        meanPages: 2,
        thinkTimeSeconds: 0.01,
        clickDelaySeconds: 0.005,
        cartDelaySeconds: 0.005,
        purchaseDelaySeconds: 0.005,
      },
    });
    const { target, log } = fakeTarget(systemClock, firstK);
    const report = await runSimulation({
      scenario: fast,
      target,
      mode: "realtime",
      clock: systemClock,
      durationMs: 300,
      rate: 40,
      drainMs: 2000,
      maxInFlight: 8,
    });
    expect(report.sessions).toBeGreaterThan(0);
    expect(report.policies[0]?.decisions).toBe(log.ranks.length);
    expect(report.truncatedSteps).toBe(0);
  });
});

describe("runSimulation (in-process engine)", () => {
  it("drives the real engine on a simulated clock without errors", async () => {
    const clock = new ManualClock(T0);
    const target = await openInProcessTarget(clock);
    const small = resolveScenario("default", { sessions: { perDay: 200 } });
    const report = await runSimulation({ scenario: small, target, mode: "fast", clock, durationMs: DAY / 4 });
    await target.close();
    expect(report.requests.errors).toBe(0);
    expect(report.policies.reduce((a, p) => a + p.decisions, 0)).toBeGreaterThan(0);
    expect(report.simulated.days).toBe(0.25);
  });
});

describe("runSimulation (rollout scenarios)", () => {
  it("registers both arms, starts the rollout and records each stage change in the timeline", async () => {
    const clock = new ManualClock(T0);
    const { target } = fakeTarget(clock, firstK);
    const registered: string[] = [];
    const started: Record<string, unknown>[] = [];
    const stageAt = () => [1, 10, 50, 100][Math.min(3, Math.floor((clock.now() - T0) / (DAY / 2)))]!;
    target.registerPolicy = async (b) => {
      registered.push(`${b.id}:${b.type}`);
      return { id: b.id ?? "" };
    };
    target.startRollout = async (body) => {
      started.push(body);
      return { id: "ro1", status: "running", stage: 1, candidateShare: 0.01 };
    };
    target.getRollout = async (id) => {
      const stage = stageAt();
      return { id, status: stage === 100 ? "completed" : "running", stage, candidateShare: stage / 100 };
    };
    const small = resolveScenario("rollout-good", { users: { count: 500 }, sessions: { perDay: 200 } });
    const report = await runSimulation({ scenario: small, target, mode: "fast", clock, durationMs: 2 * DAY });
    expect(registered).toEqual(["sim-incumbent:baseline", "sim-candidate:uniform"]);
    // The salt comes from the scenario seed (42 by default), so a rerun splits users the same way.
    expect(started).toEqual([{ candidate: "sim-candidate", incumbent: "sim-incumbent", salt: "sim-42" }]);
    expect(report.rollout?.timeline.map((e) => [e.stage, e.share, e.status])).toEqual([
      [1, 0.01, "running"],
      [10, 0.1, "running"],
      [50, 0.5, "running"],
      [100, 1, "completed"],
    ]);
    expect(report.rollout?.timeline[1]?.at).toBe(new Date(T0 + DAY / 2).toISOString());
  });
});

describe("runSimulation (policy split)", () => {
  it("forces one of the split's policies per user, sticky", async () => {
    const clock = new ManualClock(T0);
    const { target, log } = fakeTarget(clock, firstK);
    const split = resolveScenario("default", { split: ["a", "b"], sessions: { perDay: 200 } });
    await runSimulation({ scenario: split, target, mode: "fast", clock, durationMs: DAY });
    const byUser = new Map<string, Set<string | undefined>>();
    for (const r of log.ranks) byUser.set(r.body.userId, (byUser.get(r.body.userId) ?? new Set()).add(r.body.policyId));
    for (const ids of byUser.values()) expect(ids.size).toBe(1);
    const used = new Set(log.ranks.map((r) => r.body.policyId));
    expect([...used].sort()).toEqual(["a", "b"]);
  });
});

describe("runSimulation with a delayed rollout (rollout.startAfter)", () => {
  it("lets the incumbent serve everyone until the rollout starts, then stops naming a policy", async () => {
    const clock = new ManualClock(T0);
    const { target, log } = fakeTarget(clock, firstK);
    const started: number[] = [];
    target.startRollout = async () => {
      started.push(clock.now());
      return { id: "ro", status: "running", stage: 0, candidateShare: 0 };
    };
    target.getRollout = async (id) => ({ id, status: "running", stage: 10 });
    const delayed = resolveScenario("default", {
      sessions: { perDay: 300 },
      rollout: {
        incumbent: { id: "inc", type: "uniform" },
        candidate: { id: "cand", type: "uniform" },
        startAfter: "1d",
      },
    });
    const report = await runSimulation({ scenario: delayed, target, mode: "fast", clock, durationMs: 2 * DAY });
    expect(started).toHaveLength(1);
    const startAt = started[0]!;
    expect(startAt).toBe(T0 + DAY);
    const before = log.ranks.filter((r) => r.at < startAt);
    const after = log.ranks.filter((r) => r.at >= startAt);
    expect(before.length).toBeGreaterThan(100);
    expect(after.length).toBeGreaterThan(100);
    expect(before.every((r) => r.body.policyId === "inc")).toBe(true);
    expect(after.every((r) => r.body.policyId === undefined)).toBe(true);
    expect(report.rollout?.timeline[0]?.at).toBe(new Date(T0 + DAY).toISOString());
  });

  it("refuses a startAfter that is not a duration", () => {
    expect(() =>
      resolveScenario("default", {
        rollout: {
          incumbent: { id: "a", type: "uniform" },
          candidate: { id: "b", type: "uniform" },
          startAfter: "soon",
        },
      }),
    ).toThrow(/startAfter/);
  });
});
