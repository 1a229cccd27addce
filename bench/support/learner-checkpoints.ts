import type { PolicySpec } from "../../src/bandit/policy.js";
import { createPolicy } from "../../src/bandit/policy-types.js";
import { ManualClock } from "../../src/core/clock.js";
import { createLearnerDuty, type LearnerDuty } from "../../src/duties/learner-duty.js";
import { learnerContext } from "../../src/duties/learner-fixtures.js";
import { createMemoryDecisionStream } from "../../src/storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../../src/storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../../src/storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../../src/storage/memory/snapshot-store-memory.js";
import type { LeaseStore } from "../../src/stream/lease-store.js";
import type { StreamEntry } from "../../src/stream/stream-entry.js";

/** What one run's measured checkpoints cost, on average. */
export interface CheckpointFigures {
  fullCheckpointEvery: number;
  /** Open windows at the measured checkpoints, on average. */
  openWindows: number;
  checkpoints: number;
  bytesPerCheckpoint: number;
  cpuMsPerCheckpoint: number;
  wallMsPerCheckpoint: number;
}

/**
 * The learner duty's checkpoints at many open windows (issue 13): the stream's first `warmEntries` entries are
 * applied (checkpointed every 5,000 entries), then `measured` checkpoints each after `perCheckpoint` more
 * entries, timed alone (`checkpoint()`: encode, fenced write to the memory lease store, publish). With
 * `fullCheckpointEvery` 1 every checkpoint is a full one, what every checkpoint was before deltas.
 */
export async function measureCheckpoints(
  spec: PolicySpec,
  entries: readonly StreamEntry[],
  o: { start: number; windowMs: number; warmEntries: number; perCheckpoint: number; measured: number },
  fullCheckpointEvery: number,
): Promise<CheckpointFigures> {
  const { duty, now } = await startBenchLearner(spec, entries, o, { fullCheckpointEvery, maxEntriesPerStep: 1_000 });
  await applyUpTo(duty, o.warmEntries, now, 5_000);
  let bytes = 0;
  let cpuUs = 0;
  let wallMs = 0;
  let openWindows = 0;
  for (let i = 0; i < o.measured; i++) {
    await applyUpTo(duty, duty.status()!.applied + o.perCheckpoint, now, Number.POSITIVE_INFINITY);
    const cpu = process.cpuUsage();
    const wall = performance.now();
    await duty.checkpoint(now);
    wallMs += performance.now() - wall;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
    bytes += duty.status()!.checkpointBytes;
    openWindows += duty.status()!.openWindows;
  }
  return {
    fullCheckpointEvery,
    openWindows: openWindows / o.measured,
    checkpoints: o.measured,
    bytesPerCheckpoint: bytes / o.measured,
    cpuMsPerCheckpoint: cpuUs / 1000 / o.measured,
    wallMsPerCheckpoint: wallMs / o.measured,
  };
}

/** Steps until `target` entries are applied (or nothing more comes), checkpointing every `every` on the way. */
/**
 * A learner duty on memory adapters holding its lease, with the whole stream appended and nothing applied yet;
 * `now` is the step time that closes windows on the stream's own time only (a step at the stream's start settles
 * nothing new). Checkpoints only when the caller asks.
 */
export async function startBenchLearner(
  spec: PolicySpec,
  entries: readonly StreamEntry[],
  o: { start: number; windowMs: number },
  options: { fullCheckpointEvery: number; maxEntriesPerStep: number },
): Promise<{ duty: LearnerDuty; leases: LeaseStore; now: number }> {
  const clock = new ManualClock(o.start);
  const adapters = {
    stream: createMemoryDecisionStream({ partitions: 4 }),
    leases: createMemoryLeaseStore(clock),
    snapshots: createMemorySnapshotStore(),
  };
  const policies = new MemoryPolicyStore();
  await policies.save(createPolicy("p", spec).snapshot(), o.start);
  const ctx = learnerContext({ adapters, policies, clock, workerId: "bench", windowMs: o.windowMs });
  const duty = createLearnerDuty(ctx, "p", {
    ...options,
    checkpointEvery: Number.POSITIVE_INFINITY,
    checkpointMs: Number.POSITIVE_INFINITY,
    persistEvery: 1_000_000,
  });
  await adapters.stream.append([...entries]);
  await duty.start((await adapters.leases.acquire(duty.name, "bench", 3_600_000_000))!);
  return { duty, leases: adapters.leases, now: o.start + o.windowMs / 2 };
}

/** Steps until `target` entries are applied (or the stream ends), checkpointing every `every` entries. */
export async function applyUpTo(duty: LearnerDuty, target: number, now: number, every: number): Promise<void> {
  let last = duty.status()!.applied;
  for (let before = -1; duty.status()!.applied < target && duty.status()!.applied !== before; ) {
    before = duty.status()!.applied;
    await duty.step(now);
    if (duty.status()!.applied - last >= every) {
      await duty.checkpoint(now);
      last = duty.status()!.applied;
    }
  }
}
