import { describe, expect, it } from "vitest";
import { DAY, ManualClock } from "../../core/clock.js";
import type { RankResponse } from "../../server/api-types.js";
import { Recorder } from "../report.js";
import type { SimEventBody, SimTarget } from "../target.js";
import { resolveScenario } from "../world/scenarios.js";
import { EventOutbox } from "./event-outbox.js";
import { runSimulation } from "./run-simulation.js";
import { EventQueue, runFast } from "./scheduler.js";

const T0 = Date.UTC(2026, 0, 5);

/** Records every events request (its time and bodies) and every rank request; ranks the first candidate. */
function recordingTarget(clock: ManualClock) {
  const posts: { at: number; events: SimEventBody[] }[] = [];
  const ranks: string[] = [];
  const target: SimTarget = {
    kind: "fake",
    upsertItems: async (b) => ({ accepted: b.items.length, rejected: 0, results: [] }),
    ingestEvents: async (b) => {
      posts.push({ at: clock.now(), events: b.events });
      return { accepted: b.events.length, duplicates: 0, rejected: 0, rewardsJoined: 0, results: [] };
    },
    rank: async (body): Promise<RankResponse> => {
      ranks.push(`${body.decisionId}@${clock.now()}:${body.candidates?.[0]?.id}`);
      return {
        decisionId: body.decisionId ?? "d",
        policy: { id: "fake", type: "fake", version: 1 },
        ranking: (body.candidates ?? [])
          .slice(0, body.slots ?? 4)
          .map((c, position) => ({ id: c.id, position, probability: 1 })),
        candidateSource: "request",
        fallbacks: [],
        activated: true,
      };
    },
    reward: async (decisionId) => ({ decisionId, rewardId: "r", status: "accepted" }),
    registerPolicy: async (b) => ({ id: b.id ?? "p" }),
    close: async () => undefined,
  };
  return { target, posts, ranks };
}

const event = (i: number, t: number): SimEventBody => ({
  type: "view",
  userId: "u",
  itemId: "i",
  timestamp: t,
  eventId: `e${i}`,
});

describe("EventOutbox", () => {
  it("posts each call at once when not batching", async () => {
    const clock = new ManualClock(T0);
    const { target, posts } = recordingTarget(clock);
    const queue = new EventQueue();
    const outbox = new EventOutbox(
      target,
      new Recorder(),
      0,
      (at, a) => queue.push(at, a),
      () => clock.now(),
    );
    let sent = 0;
    await outbox.send([event(1, T0)], () => sent++);
    expect(posts.map((p) => p.events.length)).toEqual([1]);
    expect(sent).toBe(1);
    expect(queue.size).toBe(0);
  });

  it("holds events until batchMs after the first one waiting, then posts them in one request", async () => {
    const clock = new ManualClock(T0);
    const { target, posts } = recordingTarget(clock);
    const queue = new EventQueue();
    const outbox = new EventOutbox(
      target,
      new Recorder(),
      30_000,
      (at, a) => queue.push(at, a),
      () => clock.now(),
    );
    const sent: number[] = [];
    for (let i = 0; i < 3; i++) {
      clock.set(T0 + i * 10_000);
      await outbox.send([event(i, clock.now())], () => sent.push(i));
    }
    expect(posts).toEqual([]);
    await runFast(queue, clock, T0 + 35_000);
    clock.set(T0 + 50_000);
    await outbox.send([event(3, clock.now())]); // the first one waiting again: the next batch is due 30 s later
    await runFast(queue, clock, T0 + DAY);
    expect(posts.map((p) => [p.at - T0, p.events.map((e) => e.eventId)])).toEqual([
      [30_000, ["e0", "e1", "e2"]],
      [80_000, ["e3"]],
    ]);
    expect(sent).toEqual([0, 1, 2]);
  });

  it("splits a large batch into requests of at most 500 events, keeping a call's events together", async () => {
    const clock = new ManualClock(T0);
    const { target, posts } = recordingTarget(clock);
    const queue = new EventQueue();
    const outbox = new EventOutbox(
      target,
      new Recorder(),
      1000,
      (at, a) => queue.push(at, a),
      () => clock.now(),
    );
    for (let i = 0; i < 400; i++) await outbox.send([event(2 * i, T0), event(2 * i + 1, T0)]);
    await outbox.flush();
    expect(posts.map((p) => p.events.length)).toEqual([500, 300]);
    expect(posts.flatMap((p) => p.events.map((e) => e.eventId))).toEqual(
      Array.from({ length: 800 }, (_, i) => `e${i}`),
    );
    expect(outbox.pending).toBe(0);
  });
});

describe("runSimulation with a batching tracker (sessions.eventBatchSeconds)", () => {
  async function run(eventBatchSeconds: number) {
    const clock = new ManualClock(T0);
    const { target, posts, ranks } = recordingTarget(clock);
    const scenario = resolveScenario("default", { sessions: { perDay: 300, eventBatchSeconds } });
    const report = await runSimulation({ scenario, target, mode: "fast", clock, durationMs: 2 * DAY });
    return { report, posts, ranks };
  }

  it("sends the same events with their own timestamps in fewer requests, each within the batch time", async () => {
    const each = await run(0);
    const batched = await run(30);
    const ids = (posts: { events: SimEventBody[] }[]) => posts.flatMap((p) => p.events.map((e) => e.eventId));
    expect(ids(batched.posts)).toEqual(ids(each.posts));
    expect(batched.posts.length).toBeLessThan(each.posts.length / 2);
    for (const p of batched.posts) {
      for (const e of p.events) {
        expect(p.at).toBeGreaterThanOrEqual(e.timestamp as number);
        expect(p.at - (e.timestamp as number)).toBeLessThanOrEqual(30_000);
      }
    }
    // The traffic itself does not change: the same rank requests at the same times, the same clicks counted.
    expect(batched.ranks).toEqual(each.ranks);
    expect(batched.report.policies).toEqual(each.report.policies);
  });
});
