import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../app/config.js";
import { EngineMetrics } from "../app/metrics.js";
import { ModelFollower } from "../app/model-follower.js";
import { RETRAIN_REQUESTS, requestRetrain } from "../app/retrain-request.js";
import { DAY, HOUR, ManualClock } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import { ModelHolder } from "../recommend/model-holder.js";
import type { SessionModel } from "../recommend/session-model.js";
import { trainFromEventLog } from "../recommend/train-from-log.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { MemoryEventLog } from "../storage/memory/event-log-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { LeaseStore } from "../stream/lease-store.js";
import type { DutyContext } from "./duty.js";
import { LeaseLostError } from "./learner-duty.js";
import { createTrainerDuty, MODEL_SNAPSHOT, TRAINER_DUTY } from "./trainer-duty.js";

const logger = pino({ level: "silent" });
const TTL = 10_000;

/** Sessions where b follows a, and c follows b: a trained model recommends b after a. */
function sessions(count: number, at: number, prefix: string): UserEvent[] {
  const events: UserEvent[] = [];
  for (let u = 0; u < count; u++) {
    for (const [k, itemId] of ["a", "b", "c"].entries()) {
      events.push({
        eventId: `${prefix}${u}-${k}`,
        type: "click",
        userId: `u${u}`,
        sessionId: `${prefix}s${u}`,
        itemId,
        timestamp: at + u * 10 + k,
      });
    }
  }
  return events;
}

/** Lets `ms` pass on the clock while `holder` renews its lease, as its DutyRunner would. */
async function holdFor(ms: number, clock: ManualClock, leases: LeaseStore, holder: string, token: number) {
  for (let t = 0; t < ms; t += TTL / 2) {
    clock.advance(TTL / 2);
    expect(await leases.renew(TRAINER_DUTY, holder, token, TTL)).toBe(true);
  }
}

async function setup() {
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const config = parseConfig({ recommend: { model: "sknn", retrainEvery: "1h" } });
  const leases = createMemoryLeaseStore(clock);
  const snapshots = createMemorySnapshotStore();
  const events = new MemoryEventLog();
  const ctx = (workerId: string): DutyContext => ({
    config,
    clock,
    logger,
    metrics: new EngineMetrics(),
    stream: createMemoryDecisionStream({ partitions: 2, clock }),
    leases,
    snapshots,
    decisions: new MemoryDecisionStore(),
    policies: new MemoryPolicyStore(),
    workerId,
  });
  // An API node: its own holder and metrics, following the published models.
  const holder = new ModelHolder<SessionModel>();
  const apiMetrics = new EngineMetrics();
  const follower = new ModelFollower(snapshots, holder, apiMetrics, logger);
  await follower.start();
  return { clock, leases, snapshots, events, ctx, holder, apiMetrics, follower };
}

describe("the trainer duty (model:recommender) and an API node's model follower", () => {
  it("trains on schedule, publishes full models, and API nodes swap each in and report its version", async () => {
    const { clock, leases, snapshots, events, ctx, holder, apiMetrics, follower } = await setup();
    const trainer = createTrainerDuty(ctx("w1"), { events });
    const token = (await leases.acquire(TRAINER_DUTY, "w1", TTL)) as number;
    const advance = (ms: number) => holdFor(ms, clock, leases, "w1", token);
    await trainer.start(token);

    // Nothing to learn yet: no model, no error, nothing published.
    await trainer.step(clock.now());
    await trainer.idle();
    expect(await snapshots.latest(MODEL_SNAPSHOT)).toBeUndefined();

    await events.append(sessions(30, clock.now() - HOUR, "x"));
    trainer.trigger();
    await trainer.step(clock.now());
    await trainer.idle();
    expect(await snapshots.latest(MODEL_SNAPSHOT)).toEqual({ version: 1, kind: "full" });
    await follower.catchUp();
    const first = holder.current();
    expect(follower.version).toBe(1);
    expect(first?.trainedAt).toBe(clock.now());
    // The node serves what the trainer fitted on the log (not a popularity fallback), bytes and all.
    const fitted = await trainFromEventLog(events, { model: "sknn", clock, from: clock.now() - 30 * DAY });
    const after = first?.recommend(["a"], 3);
    expect(after?.fallback).toBeUndefined();
    expect(after).toEqual(fitted.recommend(["a"], 3));
    expect(first?.score(["b"], ["a", "c"])).toEqual(fitted.score(["b"], ["a", "c"]));
    expect(await apiMetrics.registry.metrics()).toMatch(/^loopwise_recommender_model_version 1$/m);

    // Not due again before retrainEvery; due after it, on the new events.
    await advance(HOUR / 2);
    await trainer.step(clock.now());
    await trainer.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(1);
    await advance(HOUR / 2);
    await trainer.step(clock.now());
    await trainer.idle();
    await follower.catchUp();
    expect(follower.version).toBe(2);
    expect(holder.current()).not.toBe(first);
    expect(holder.current()?.trainedAt).toBe(clock.now());
    await trainer.stop();
  });

  it("a new lease holder resumes the schedule; the old holder's model is refused by the fencing token", async () => {
    const { clock, leases, snapshots, events, ctx, follower } = await setup();
    await events.append(sessions(30, clock.now() - HOUR, "x"));
    const old = createTrainerDuty(ctx("w1"), { events });
    await old.start((await leases.acquire(TRAINER_DUTY, "w1", TTL)) as number);
    await old.step(clock.now());
    await old.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(1);

    // w1 stalls past its lease (it does not know); w2 takes over.
    clock.advance(TTL + 1);
    const next = createTrainerDuty(ctx("w2"), { events });
    const w2 = (await leases.acquire(TRAINER_DUTY, "w2", TTL)) as number;
    await next.start(w2);
    await next.step(clock.now());
    await next.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(1); // the model is 10 s old, not due
    old.trigger();
    await old.step(clock.now());
    await old.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(1); // refused: w1's token is stale

    // An hour on, w2 renewing its lease all along (as its DutyRunner does): due, published under w2's token.
    await holdFor(HOUR, clock, leases, "w2", w2);
    await next.step(clock.now());
    await next.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(2);
    await follower.catchUp();
    expect(follower.version).toBe(2);
    await next.stop();
    await old.stop();
  });

  it("a holder that loses its lease between its state write and its publish: the model is refused, the term ends", async () => {
    const { clock, leases, snapshots, events, ctx, holder, follower } = await setup();
    await events.append(sessions(30, clock.now() - HOUR, "x"));
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let frozenAt!: () => void;
    const atPublish = new Promise<void>((resolve) => (frozenAt = resolve));
    // w1 freezes (SIGSTOP) inside its publish, after its fenced state write was accepted.
    const freezing = Object.assign(Object.create(snapshots), {
      publish: async (...args: Parameters<typeof snapshots.publish>) => {
        frozenAt();
        await woken;
        return snapshots.publish(...args);
      },
    });
    const old = createTrainerDuty({ ...ctx("w1"), snapshots: freezing }, { events });
    await old.start((await leases.acquire(TRAINER_DUTY, "w1", TTL)) as number);
    const trainedByOld = clock.now();
    await old.step(clock.now());
    await atPublish;

    // w1 stays frozen past its lease; w2 takes over and publishes a model of its own under its token.
    clock.advance(TTL + 1);
    const next = createTrainerDuty(ctx("w2"), { events });
    await next.start((await leases.acquire(TRAINER_DUTY, "w2", TTL)) as number);
    next.trigger();
    await next.step(clock.now());
    await next.idle();
    expect(await snapshots.latest(MODEL_SNAPSHOT)).toEqual({ version: 1, kind: "full" });

    wake(); // w1 publishes the model it trained before: refused by the fence, and w1's term is over
    await old.idle();
    expect(await snapshots.latest(MODEL_SNAPSHOT)).toEqual({ version: 1, kind: "full" });
    await follower.catchUp();
    expect(holder.current()?.trainedAt).toBe(clock.now()); // w2's model, not w1's
    expect(clock.now()).toBeGreaterThan(trainedByOld);
    old.trigger();
    await expect(old.step(clock.now())).rejects.toBeInstanceOf(LeaseLostError);
    await next.stop();
    await old.stop();
  });

  it("trains for an API node's retrain request (POST /v1/models/train in scale-out) once, also across a failover", async () => {
    const { clock, leases, snapshots, events, ctx } = await setup();
    await events.append(sessions(30, clock.now() - HOUR, "x"));
    const first = createTrainerDuty(ctx("w1"), { events });
    await first.start((await leases.acquire(TRAINER_DUTY, "w1", TTL)) as number);
    await first.step(clock.now());
    await first.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(1); // the first model, at once

    // Two nodes ask at the same moment: both requests are recorded, in order.
    const asked = await Promise.all([requestRetrain(snapshots, clock.now()), requestRetrain(snapshots, clock.now())]);
    expect(asked.map((a) => a.request).sort()).toEqual([1, 2]);
    clock.advance(2_000); // the trainer looks for requests about once a second; the schedule is not due
    await first.step(clock.now());
    await first.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(2);
    clock.advance(2_000);
    await first.step(clock.now());
    await first.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(2); // answered: not trained again

    // A new holder reads which request the last model answered from the fenced state: no retraining for it,
    // but a request made while the lease moved is trained for.
    clock.advance(TTL + 1);
    const second = createTrainerDuty(ctx("w2"), { events });
    await second.start((await leases.acquire(TRAINER_DUTY, "w2", TTL)) as number);
    await second.step(clock.now());
    await second.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(2);
    expect((await requestRetrain(snapshots, clock.now())).request).toBe(3);
    clock.advance(2_000);
    await second.step(clock.now());
    await second.idle();
    expect((await snapshots.latest(MODEL_SNAPSHOT))?.version).toBe(3);
    expect((await snapshots.latest(RETRAIN_REQUESTS))?.version).toBe(3);
    await first.stop();
    await second.stop();
  });
});
