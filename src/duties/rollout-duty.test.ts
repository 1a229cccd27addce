import { describe, expect, it } from "vitest";
import { auditedFencingStore, auditedRolloutStore, HoldRecorder } from "../app/audit-log.js";
import { MemoryAuditLog } from "../app/dashboard-ports.js";
import { type CreateRolloutInput, RolloutController } from "../app/rollout-controller.js";
import { type ArmTruth, RolloutTraffic } from "../app/rollout-traffic.js";
import { HOUR, ManualClock } from "../core/clock.js";
import { FencedOut } from "../rollout/rollout-store.js";
import type { OpeGate, Rollout } from "../rollout/rollout-types.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryRolloutStore } from "../storage/memory/rollout-store.js";
import { createRedisDecisionStream } from "../storage/redis/decision-stream-redis.js";
import { describeOnRedis } from "../storage/redis/test-redis.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import { createRolloutDuty, ROLLOUT_DUTY } from "./rollout-duty.js";
import { StreamTrafficSink } from "./rollout-stream-traffic.js";

const base: ArmTruth = { ctr: 0.3, conversion: 0.1, value: 40 };
const plan: CreateRolloutInput = { candidate: "cand", incumbent: "inc", minHoldMs: 2 * HOUR, minSamplePerArm: 100 };
const gate: OpeGate = async () => ({
  candidate: { value: 0.31, ci: [0.3, 0.32] },
  incumbent: { value: 0.3, ci: [0.29, 0.31] },
  n: 5000,
});
const TTL = 10_000;

/** An embedded controller and a duty on a stream of the same traffic (with retried appends), one clock. */
async function setup(candidate: ArmTruth, options: { stream?: DecisionStream; sessionsPerStep?: number } = {}) {
  const clock = new ManualClock();
  // Each side's audit timeline (/v1/audit): the embedded engine's and the worker's (worker-duties.ts wiring).
  const audits = { embedded: new MemoryAuditLog(), duty: new MemoryAuditLog() };
  const embedded = await RolloutController.open({
    store: auditedRolloutStore(new MemoryRolloutStore(), audits.embedded),
    clock,
    opeGate: gate,
    newId: () => "ro1",
  });
  const embeddedHolds = new HoldRecorder(audits.embedded);
  const tickEmbedded = async () => embeddedHolds.record(await embedded.tick(), clock.now(), (id) => embedded.stats(id));
  const store = new MemoryRolloutStore();
  // The admin's create on an API node: the rollout is in the duty's store before any traffic.
  await (await RolloutController.open({ store, clock, newId: () => "ro1" })).create(plan);
  await embedded.create(plan);
  const stream = options.stream ?? createMemoryDecisionStream({ partitions: 4, clock });
  const leases = createMemoryLeaseStore(clock);
  const dutyHolds = new HoldRecorder(audits.duty);
  const duty = (workerId: string) =>
    createRolloutDuty(
      { stream, clock, workerId },
      {
        store: auditedFencingStore(store, audits.duty),
        onTick: (results, now, stats) => dutyHolds.record(results, now, stats),
        opeGate: gate,
        batch: 100_000,
      },
    );
  const sink = new StreamTrafficSink(stream, (p, u) => embedded.routeFor(p, u), { embedded, retryEvery: 7 });
  const traffic = new RolloutTraffic(sink, clock, {
    seed: "duty",
    users: 3000,
    sessionsPerStep: options.sessionsPerStep ?? 1000,
    decisionsPerSession: 3,
    incumbentPolicy: "inc",
    truth: { candidate, incumbent: base },
  });
  const play = async () => {
    traffic.step(HOUR);
    await sink.flush();
  };
  return { clock, embedded, tickEmbedded, audits, store, stream, leases, duty, play };
}

describe("the rollout duty (stream consumer under a lease)", () => {
  it("says a step that applied traffic is not idle, and one with nothing new while the rollout holds is", async () => {
    const s = await setup({ ...base, ctr: 0.33 });
    const duty = s.duty("w1");
    await duty.start((await s.leases.acquire(ROLLOUT_DUTY, "w1", TTL)) as number);
    await s.tickEmbedded(); // the embedded controller's first stage routes the traffic (as in the test below)
    await duty.step(s.clock.now());
    await s.play();
    expect(await duty.step(s.clock.now())).toBeUndefined();
    expect(await duty.step(s.clock.now())).toBe("idle");
  });

  it("counts and decides as the embedded controller on the same traffic, despite retried appends", async () => {
    const s = await setup({ ...base, ctr: 0.33 });
    const duty = s.duty("w1");
    await duty.start((await s.leases.acquire(ROLLOUT_DUTY, "w1", TTL)) as number);
    for (let h = 0; h < 9; h++) {
      await s.tickEmbedded();
      await duty.step(s.clock.now());
      expect((await s.store.loadStats("ro1"))?.counters).toEqual(s.embedded.stats("ro1")?.arms);
      await s.play();
    }
    const actions = async (entries: Promise<{ action: string; toStage: number; at: number }[]>) =>
      (await entries).map((e) => `${e.action}->${e.toStage}%@${e.at}`);
    const embeddedHistory = await actions(s.embedded.history("ro1"));
    expect(embeddedHistory.map((a) => a.split("@")[0])).toEqual([
      "create->0%",
      "advance->1%",
      "advance->10%",
      "advance->50%",
    ]);
    expect(await actions(s.store.audit("ro1"))).toEqual(embeddedHistory);
    expect(await s.store.get("ro1")).toEqual(await s.embedded.get("ro1"));
    for (let p = 0; p < s.stream.partitions; p++) expect(await s.stream.pendingCount(ROLLOUT_DUTY, p)).toBe(0);
    // The worker's transitions and holds are on its audit timeline exactly as the embedded controller's.
    const timeline = async (log: MemoryAuditLog) =>
      (await log.list({ ascending: true, limit: 1000 })).map(({ seq: _, ...entry }) => entry);
    const dutyTimeline = await timeline(s.audits.duty);
    expect(dutyTimeline.map((e) => e.action)).toEqual(expect.arrayContaining(["rollout.advance", "rollout.hold"]));
    expect(dutyTimeline).toEqual(await timeline(s.audits.embedded));
  });

  it("a standby takes over from the checkpoint and the lapsed holder's pending entries; the stale holder is fenced out", async () => {
    expect(await takeOver(setup({ ...base, ctr: 0.15 }))).toBe("rolled_back");
  });
});

describeOnRedis("the rollout duty on Redis Streams", (redis) => {
  it("a standby takes over from the checkpoint and the claimed pending entries", () =>
    takeOver(
      setup(
        { ...base, ctr: 0.15 },
        {
          stream: createRedisDecisionStream(redis.client(), { partitions: 4, keyPrefix: redis.freshPrefix() }),
          sessionsPerStep: 300,
        },
      ),
    ));
});

/** Worker w1 checkpoints, then stalls holding read entries; w2 takes over; w1's late write is refused. */
async function takeOver(setup_: ReturnType<typeof setup>): Promise<Rollout["status"] | undefined> {
  const s = await setup_;
  const first = s.duty("w1");
  await first.start((await s.leases.acquire(ROLLOUT_DUTY, "w1", TTL)) as number);
  await s.embedded.tick();
  await first.step(s.clock.now());
  await s.play();
  // w1 reads a batch and stalls (SIGSTOP) before its checkpoint: the entries are pending, never applied.
  for (let p = 0; p < s.stream.partitions; p++) await s.stream.read(ROLLOUT_DUTY, "w1", p, { count: 1e6 });
  s.clock.advance(TTL);
  const second = s.duty("w2");
  await second.start((await s.leases.acquire(ROLLOUT_DUTY, "w2", TTL)) as number);
  for (let h = 0; h < 6 && (await s.embedded.get("ro1"))?.status === "running"; h++) {
    const counted = s.embedded.stats("ro1")?.arms;
    await s.embedded.tick();
    await second.step(s.clock.now());
    // Checkpointed at the tick; a rollout that ended there keeps its last counters in the store.
    expect((await s.store.loadStats("ro1"))?.counters).toEqual(counted);
    await s.play();
  }
  // The duty's rollout is where the embedded controller's is (rolled back, at the memory test's volume).
  const end = await s.store.get("ro1");
  expect(end).toEqual(await s.embedded.get("ro1"));
  // w1 resumes after its lease lapsed: its first write is refused and it stops.
  await expect(first.step(s.clock.now())).rejects.toBeInstanceOf(FencedOut);
  await first.step(s.clock.now()); // stopped: nothing more
  expect(await s.store.get("ro1")).toEqual(end);
  return end?.status;
}
