import { describe, expect, it } from "vitest";
import { HOUR, ManualClock } from "../core/clock.js";
import { createRolloutDuty, ROLLOUT_DUTY } from "../duties/rollout-duty.js";
import { StreamTrafficSink } from "../duties/rollout-stream-traffic.js";
import type { OpeGate } from "../rollout/rollout-types.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { PostgresRolloutStore } from "../storage/postgres/rollout-store-postgres.js";
import { postgresAvailable, testSchemas } from "../storage/postgres/test-database.js";
import { type CreateRolloutInput, RolloutController } from "./rollout-controller.js";
import { RolloutFollower } from "./rollout-follower.js";
import { type ArmTruth, RolloutTraffic } from "./rollout-traffic.js";

const schemas = testSchemas();
const run = postgresAvailable("two API nodes' rollout followers and the rollout duty");

const base: ArmTruth = { ctr: 0.3, conversion: 0.1, value: 40 };
const plan: CreateRolloutInput = { candidate: "cand", incumbent: "inc", minHoldMs: 2 * HOUR, minSamplePerArm: 100 };
const gate: OpeGate = async () => ({
  candidate: { value: 0.31, ci: [0.3, 0.32] },
  incumbent: { value: 0.3, ci: [0.29, 0.31] },
  n: 5000,
});

/**
 * Two API nodes (each its own PostgreSQL pool, follower and traffic) and one worker holding the rollout duty,
 * on one schema and one decision stream: the nodes route from their cached copy and append exposures and
 * events; only the duty counts and moves stages.
 */
async function cluster(candidate: ArmTruth) {
  const schema = schemas.name();
  const clock = new ManualClock();
  const nodeStore = async () => new PostgresRolloutStore(await schemas.open(schema));
  const admin = await RolloutController.open({ store: await nodeStore(), clock, newId: () => "ro1" });
  await admin.create(plan);
  const stream = createMemoryDecisionStream({ partitions: 4, clock });
  const leases = createMemoryLeaseStore(clock);
  const duty = createRolloutDuty(
    { stream, clock, workerId: "worker-1" },
    { store: await nodeStore(), opeGate: gate, batch: 100_000 },
  );
  await duty.start((await leases.acquire(ROLLOUT_DUTY, "worker-1", 10_000)) as number);
  const nodes = await Promise.all(
    ["a", "b"].map(async (name) => {
      const follower = await RolloutFollower.open(await nodeStore(), clock, { refreshEveryMs: 1000 });
      const sink = new StreamTrafficSink(stream, (p, u) => follower.routeFor(p, u), {
        retryEvery: 11,
        idPrefix: `${name}-`,
      });
      const traffic = new RolloutTraffic(sink, clock, {
        seed: `node-${name}`,
        users: 3000,
        sessionsPerStep: 1000,
        decisionsPerSession: 3,
        incumbentPolicy: "inc",
        truth: { candidate, incumbent: base },
      });
      return { follower, sink, traffic };
    }),
  );
  const reader = await nodeStore();
  /** One hour: the worker steps, the nodes refresh their copies and serve half an hour each. */
  const hour = async () => {
    await duty.step(clock.now());
    for (const n of nodes) {
      await n.follower.refresh();
      n.traffic.step(HOUR / 2);
      await n.sink.flush();
    }
  };
  const exposures = () => nodes.reduce((sum, n) => sum + n.sink.exposures, 0);
  return { duty, nodes, hour, exposures, reader, clock };
}

describe.skipIf(!run)("rollout followers on two API nodes and one rollout duty (PostgreSQL)", () => {
  it("counts both nodes' exposures and promotes a better candidate stage by stage from them", async () => {
    const c = await cluster({ ...base, ctr: 0.33 });
    for (let h = 0; h < 9 && (await c.reader.get("ro1"))?.status === "running"; h++) {
      await c.hour();
      await c.duty.step(c.clock.now());
      const arms = (await c.reader.loadStats("ro1"))?.counters;
      expect((arms?.candidate.decisions ?? 0) + (arms?.incumbent.decisions ?? 0)).toBe(c.exposures());
    }
    const stages = (await c.reader.audit("ro1")).map((e) => `${e.action}->${e.toStage}`);
    expect(stages).toEqual(["create->0", "advance->1", "advance->10", "advance->50", "complete->100"]);
    const arms = (await c.reader.loadStats("ro1"))?.counters;
    expect(arms?.candidate.decisions).toBeGreaterThan(1000);
    // Completed: the candidate becomes the default policy (the engine's onPromote); the nodes stop routing.
    for (const n of c.nodes) {
      await n.follower.refresh();
      expect(n.follower.routeFor("inc", "u1")).toBeUndefined();
    }
    for (const n of c.nodes) expect(n.sink.exposures).toBeGreaterThan(0);
  });

  it("rolls back a worse candidate from both nodes' counts, and both nodes stop routing to it", async () => {
    const c = await cluster({ ...base, ctr: 0.15, conversion: 0.05 });
    for (let h = 0; h < 10 && (await c.reader.get("ro1"))?.status === "running"; h++) await c.hour();
    expect((await c.reader.get("ro1"))?.status).toBe("rolled_back");
    const last = (await c.reader.audit("ro1")).at(-1);
    expect(last?.reasons.map((r) => r.code)).toContain("guardrail_regression");
    for (const n of c.nodes) {
      await n.follower.refresh();
      expect(n.follower.routeFor("inc", "u1")).toBeUndefined();
    }
  });
});
