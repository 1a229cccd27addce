import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../app/config.js";
import { EngineMetrics } from "../app/metrics.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import { ManualClock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { DutyContext } from "./duty.js";
import { createStreamTrimDuty, STREAM_TRIM } from "./stream-trim.js";

function context(): DutyContext & { clock: ManualClock } {
  const clock = new ManualClock();
  return {
    config: parseConfig({ workers: { trimEvery: "5s" } }),
    clock,
    logger: pino({ level: "silent" }),
    metrics: new EngineMetrics(),
    // The trimmer reads neither; a duty that does gets real stores (createTestEngine's parts).
    decisions: {} as DecisionStore,
    policies: {} as PolicyStore,
    workerId: "w1",
    stream: createMemoryDecisionStream({ partitions: 2, clock }),
    leases: createMemoryLeaseStore(clock),
    snapshots: createMemorySnapshotStore(),
  };
}

const activation = (i: number) => ({ kind: "activate" as const, decisionId: `d${i}`, at: i });

describe("the stream-trim duty", () => {
  it("drops what every group acked, keeps the rest, reports lengths, and runs only every trimEvery", async () => {
    const ctx = context();
    const duty = createStreamTrimDuty(ctx);
    expect(duty.name).toBe(STREAM_TRIM);
    const { stream } = ctx;
    await stream.ensureGroup("learner:default", "start");
    await stream.append(Array.from({ length: 40 }, (_, i) => activation(i)));
    const total = async () => (await stream.length(0)) + (await stream.length(1));
    // The group acks what it read of partition 0 only.
    const read = await stream.read("learner:default", "c", 0, { count: 1000 });
    await stream.ack(
      "learner:default",
      0,
      read.map((d) => d.id),
    );
    const unacked = await stream.length(1);
    expect(read.length).toBeGreaterThan(0);
    expect(unacked).toBeGreaterThan(0);

    await duty.start(1);
    await duty.step(ctx.clock.now());
    expect(await stream.length(0)).toBe(0);
    expect(await stream.length(1)).toBe(unacked);
    const metrics = await ctx.metrics.registry.metrics();
    expect(metrics).toContain(`loopwise_stream_length{partition="1"} ${unacked}`);
    expect(metrics).toContain(`loopwise_stream_trimmed_total{partition="0"} ${read.length}`);

    // Partition 1 is acked now, but the next run is not due until trimEvery has passed.
    const rest = await stream.read("learner:default", "c", 1, { count: 1000 });
    await stream.ack(
      "learner:default",
      1,
      rest.map((d) => d.id),
    );
    await duty.step(ctx.clock.advance(1_000));
    expect(await total()).toBe(unacked);
    await duty.step(ctx.clock.advance(4_000));
    expect(await total()).toBe(0);
    await duty.stop();
  });
});
