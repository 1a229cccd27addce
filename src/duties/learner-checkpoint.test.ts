import { describe, expect, it } from "vitest";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { StreamAdapters } from "./duty.js";
import {
  CHECKPOINT_KEY,
  decodeCheckpoint,
  encodeCheckpointV8,
  readCheckpoint,
  readCheckpointedPolicy,
} from "./learner-checkpoint.js";
import { createLearnerDuty, type LearnerDuty, type LearnerDutyOptions } from "./learner-duty.js";
import { learnerContext, learnerStream, TEST_POLICY_SPEC } from "./learner-fixtures.js";
import { policyFingerprint } from "./learner-snapshots.js";

const T = Date.UTC(2026, 2, 2, 10);
const WINDOW = 30_000;
const END = T + 200 * 1_000 + 10 * WINDOW;
const entries = learnerStream({ policyId: "p", decisions: 200, windowMs: WINDOW, start: T });
/** A checkpoint every 25 entries, a full every 4th: fulls and deltas alternate through the stream. */
const INCREMENTAL: Partial<LearnerDutyOptions> = {
  checkpointEvery: 25,
  maxEntriesPerStep: 25,
  checkpointMs: 3_600_000,
  fullCheckpointEvery: 4,
};

async function learner(adapters: StreamAdapters, worker: string, options: Partial<LearnerDutyOptions>) {
  const policies = new MemoryPolicyStore();
  await policies.save(createPolicy("p", TEST_POLICY_SPEC).snapshot(), T);
  const clock = new ManualClock(T);
  const duty = createLearnerDuty(
    learnerContext({ adapters, policies, clock, workerId: worker, windowMs: WINDOW }),
    "p",
    {
      ...options,
    },
  );
  await duty.start((await adapters.leases.acquire(duty.name, worker, 60_000))!);
  return duty;
}

function rig(leaseClock = new ManualClock(T)): StreamAdapters {
  return {
    stream: createMemoryDecisionStream({ partitions: 3, clock: new ManualClock(T) }),
    leases: createMemoryLeaseStore(leaseClock),
    snapshots: createMemorySnapshotStore(),
  };
}

/** Steps through the stream a second of stream time a step, calling `onCheckpoint` after each checkpoint. */
async function run(duty: LearnerDuty, steps: number, onCheckpoint: () => Promise<void>): Promise<void> {
  for (let i = 0; i < steps; i++) {
    const before = duty.status()!.checkpoints;
    await duty.step(T + i * 1_000);
    if (duty.status()!.checkpoints !== before) await onCheckpoint();
  }
}

/** Steps at `now` until a step applies nothing. */
async function drainAt(duty: LearnerDuty, now: number): Promise<void> {
  for (let before = -1; duty.status()!.applied !== before; ) {
    before = duty.status()!.applied;
    await duty.step(now);
  }
}

const fingerprint = (duty: LearnerDuty) => policyFingerprint(duty.policy!.snapshot());

describe("learner checkpoints: a full, then deltas of what changed", () => {
  it("every checkpoint, full or delta, restores exactly the live state; deltas weigh a fraction of a full", async () => {
    const adapters = rig();
    await adapters.stream.append(entries);
    const duty = await learner(adapters, "w", INCREMENTAL);
    const sizes = { full: [] as number[], delta: [] as number[] };
    await run(duty, 300, async () => {
      const restored = (await readCheckpoint(adapters.leases, duty.name, WINDOW))!;
      const status = duty.status()!;
      sizes[restored.deltas === 0 ? "full" : "delta"].push(status.checkpointBytes);
      expect(restored.checkpoint.join).toEqual(duty.joinState());
      expect(restored.checkpoint.applied).toBe(status.applied);
      const policy = (await readCheckpointedPolicy(adapters.leases, duty.name, WINDOW))!;
      expect(policyFingerprint(policy.snapshot())).toBe(fingerprint(duty));
    });
    expect(sizes.full.length).toBeGreaterThan(2);
    expect(sizes.delta.length).toBeGreaterThan(2 * sizes.full.length);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(sizes.delta)).toBeLessThan(mean(sizes.full) / 2);
  });

  it("a standby restored from a full and its deltas ends equal, bit for bit, to one uninterrupted learner", async () => {
    const reference = rig();
    await reference.stream.append(entries);
    const c = await learner(reference, "c", {});
    for (const now of [T, END]) await drainAt(c, now);

    const leaseClock = new ManualClock(T);
    const adapters = rig(leaseClock);
    await adapters.stream.append(entries);
    const a = await learner(adapters, "a", INCREMENTAL);
    for (let i = 0; i < 6; i++) await a.step(T + 60_000); // a full and 2 deltas… then a dies mid-way (no stop)
    const restored = (await readCheckpoint(adapters.leases, a.name, WINDOW))!;
    expect(restored.deltas).toBeGreaterThan(0);
    leaseClock.advance(61_000);
    const b = await learner(adapters, "b", INCREMENTAL);
    expect(b.status()!.applied).toBe(restored.checkpoint.applied);
    for (const now of [T, END]) await drainAt(b, now);
    expect(b.policy!.updates).toBe(c.policy!.updates);
    expect(fingerprint(b)).toBe(fingerprint(c));
  });

  it("still reads a full written before the join's columns (format 1), which weighed more", async () => {
    const adapters = rig();
    await adapters.stream.append(entries);
    const duty = await learner(adapters, "w", { ...INCREMENTAL, fullCheckpointEvery: 1 });
    let columns: Uint8Array = new Uint8Array();
    let live = duty.joinState();
    await run(duty, 120, async () => {
      columns = (await adapters.leases.fencedRead(duty.name, CHECKPOINT_KEY))!;
      live = structuredClone(duty.joinState()); // its windows' reducer states are live objects
    });
    const checkpoint = decodeCheckpoint(columns);
    expect(checkpoint.join).toEqual(live);
    expect(checkpoint.join.windows.length).toBeGreaterThan(20);
    const v8 = encodeCheckpointV8(checkpoint);
    expect(decodeCheckpoint(v8)).toEqual(checkpoint);
    expect(columns.byteLength).toBeLessThan(v8.byteLength);
  });
});
