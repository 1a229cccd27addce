import { describe, expect, it } from "vitest";
import type { PolicyStore } from "../bandit/policy-store.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { PostgresPolicyStore } from "../storage/postgres/policy-store-postgres.js";
import { postgresAvailable, testSchemas } from "../storage/postgres/test-database.js";
import { createRedisDecisionStream } from "../storage/redis/decision-stream-redis.js";
import { createRedisLeaseStore } from "../storage/redis/lease-store-redis.js";
import { createRedisSnapshotStore } from "../storage/redis/snapshot-store-redis.js";
import { describeOnRedis } from "../storage/redis/test-redis.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import type { StreamAdapters } from "./duty.js";
import { createLearnerDuty, type LearnerDuty, LeaseLostError } from "./learner-duty.js";
import { learnerContext, learnerStream, TEST_POLICY_SPEC } from "./learner-fixtures.js";
import { decodePolicyVersion, policyFingerprint, policySnapshotName } from "./learner-snapshots.js";

const T = Date.UTC(2026, 2, 2, 10);
const WINDOW = 60_000;
const DECISIONS = 90;
const END = T + DECISIONS * 1_000 + 10 * WINDOW; // every window has ended by then
/**
 * The first holder's lease: long enough for its steps on a loaded machine (on Redis the ttl runs on the wall
 * clock: a lease that lapses mid-test moves the test's takeover), short enough to wait out on Redis.
 */
const A_TTL_MS = 1_500;
const entries = learnerStream({ policyId: "p", decisions: DECISIONS, windowMs: WINDOW, start: T });

/** Adapters for one run, and how to let a lease lapse on them. */
interface Rig {
  adapters: StreamAdapters;
  lapse(ms: number): Promise<void>;
  /** The durable policy store both holders share, where the test needs one (memory by default). */
  policies?: () => Promise<PolicyStore>;
}

async function policyStore(store: PolicyStore = new MemoryPolicyStore()): Promise<PolicyStore> {
  await store.save(createPolicy("p", TEST_POLICY_SPEC).snapshot(), T);
  return store;
}

async function learner(rig: Rig, worker: string, options = {}, policies?: PolicyStore): Promise<LearnerDuty> {
  const ctx = learnerContext({
    adapters: rig.adapters,
    policies: policies ?? (await policyStore()),
    clock: new ManualClock(T),
    workerId: worker,
    windowMs: WINDOW,
  });
  return createLearnerDuty(ctx, "p", options);
}

/**
 * Steps until a step applies nothing, then at the end of time until nothing more (entries of the stream's last
 * second settle only then, partition-merge.ts), which closes every window; then checkpoints.
 */
async function drain(duty: LearnerDuty): Promise<void> {
  for (const now of [T, END]) {
    for (let before = -1; duty.status()!.applied !== before; ) {
      before = duty.status()!.applied;
      await duty.step(now);
    }
  }
  await duty.checkpoint(END);
}

const fingerprint = (duty: LearnerDuty): string => policyFingerprint(duty.policy!.snapshot());

/** What the log's join gives: every slot of every distinct decision of "p", its first in-window reward or 0. */
function expectedJoin(stream: readonly StreamEntry[]): { slots: number; rewardSum: number } {
  const active = new Map<string, { at: number; items: string[] }>();
  const rewards: Extract<StreamEntry, { kind: "reward" }>["reward"][] = [];
  for (const e of stream) {
    if (e.kind === "decision" && e.decision.policyId === "p" && !active.has(e.decision.decisionId)) {
      active.set(e.decision.decisionId, { at: e.decision.activatedAt ?? Number.NaN, items: [] });
    } else if (e.kind === "activate" && Number.isNaN(active.get(e.decisionId)?.at ?? 0)) {
      active.get(e.decisionId)!.at = e.at;
    } else if (e.kind === "reward") rewards.push(e.reward);
  }
  const first = new Map<string, number>();
  for (const r of [...rewards].sort((a, b) => a.receivedAt! - b.receivedAt!)) {
    const d = active.get(r.decisionId);
    const key = `${r.decisionId}/${r.itemId}`;
    if (d && r.receivedAt! < d.at + WINDOW && !first.has(key)) first.set(key, r.value);
  }
  const rewardSum = [...first.values()].reduce((a, b) => a + b, 0);
  return { slots: active.size * 2, rewardSum };
}

function failoverSuite(open: () => Promise<Rig>): void {
  it("a standby that takes over after a crash ends equal, bit for bit, to one uninterrupted learner", async () => {
    const reference = await open();
    await reference.adapters.stream.append(entries);
    const c = await learner(reference, "c");
    const cToken = await reference.adapters.leases.acquire(c.name, "c", 60_000);
    await c.start(cToken!);
    await drain(c);

    const rig = await open();
    await rig.adapters.stream.append(entries);
    const options = { maxEntriesPerStep: 20, checkpointEvery: 60, checkpointMs: 3_600_000 };
    // a dies before its group's marker moves: the stream keeps everything, also what its checkpoint holds
    const neverAcks = {
      ...rig.adapters,
      stream: Object.assign(Object.create(rig.adapters.stream), { ack: async () => 0, commit: async () => {} }),
    };
    const a = await learner({ ...rig, adapters: neverAcks }, "a", options);
    const aToken = (await rig.adapters.leases.acquire(a.name, "a", A_TTL_MS))!;
    await a.start(aToken);
    for (let i = 0; i < 5; i++) await a.step(T); // checkpoints after 60 entries, then 40 more it never saves
    expect(a.status()!.applied).toBe(100);
    const aCheckpoint = await rig.adapters.leases.fencedRead(a.name, "checkpoint");

    await rig.lapse(A_TTL_MS + 100); // a is gone without stop(); its lease lapses
    const b = await learner(rig, "b", options);
    const bToken = (await rig.adapters.leases.acquire(b.name, "b", 60_000))!;
    expect(bToken).toBeGreaterThan(aToken);
    await b.start(bToken);
    expect(b.status()!.applied).toBe(60); // restored from a's checkpoint, not from what a applied after it
    await drain(b);

    expect(fingerprint(b)).toBe(fingerprint(c));
    const truth = expectedJoin(entries);
    expect(b.policy!.updates).toBe(truth.slots);
    expect(c.policy!.updates).toBe(truth.slots);
    expect(b.policy!.snapshot().progress.rewardSum).toBeCloseTo(truth.rewardSum, 9);
    expect(b.status()!.openWindows).toBe(0);
    for (let p = 0; p < rig.adapters.stream.partitions; p++) {
      expect(await rig.adapters.stream.pendingCount(b.name, p)).toBe(0);
    }

    const bCheckpoint = await rig.adapters.leases.fencedRead(b.name, "checkpoint");
    expect(Buffer.from(bCheckpoint!).equals(Buffer.from(aCheckpoint!))).toBe(false);
    await expect(a.checkpoint(END)).rejects.toBeInstanceOf(LeaseLostError);
    const after = await rig.adapters.leases.fencedRead(b.name, "checkpoint");
    expect(Buffer.from(after!).equals(Buffer.from(bCheckpoint!))).toBe(true);
  });

  it("a holder frozen past its lease that reads on waking takes nothing from the new holder: every slot learned once", async () => {
    const half = Math.floor(entries.length / 2);
    const options = { checkpointMs: 3_600_000 };
    // The reference sees the same appends at the same points, uninterrupted.
    const reference = await open();
    await reference.adapters.stream.append(entries.slice(0, half));
    const c = await learner(reference, "c", options);
    await c.start((await reference.adapters.leases.acquire(c.name, "c", 60_000))!);
    await c.step(T);
    await reference.adapters.stream.append(entries.slice(half));
    await drain(c);

    const rig = await open();
    await rig.adapters.stream.append(entries.slice(0, half));
    const a = await learner(rig, "a", options);
    const aToken = (await rig.adapters.leases.acquire(a.name, "a", A_TTL_MS))!;
    await a.start(aToken);
    await a.step(T);
    await a.checkpoint(T); // accepted: the new holder resumes from here
    await rig.lapse(A_TTL_MS + 100); // a freezes (SIGSTOP) past its ttl; b takes over
    const b = await learner(rig, "b", options);
    await b.start((await rig.adapters.leases.acquire(b.name, "b", 60_000))!);
    await rig.adapters.stream.append(entries.slice(half)); // traffic during the freeze
    await a.step(T); // a wakes inside its step and reads what was appended...
    expect(a.status()!.applied).toBeGreaterThan(half);
    await expect(a.checkpoint(T)).rejects.toBeInstanceOf(LeaseLostError); // ...and is fenced out
    await drain(b);
    expect(b.policy!.updates).toBe(expectedJoin(entries).slots);
    expect(fingerprint(b)).toBe(fingerprint(c));
  });

  it("a holder frozen between its accepted checkpoint and its publish is refused by the snapshot store on waking", async () => {
    const half = Math.floor(entries.length / 2);
    const options = { checkpointMs: 3_600_000, fullEvery: 1 }; // every publish a full: the version rule passes it
    const rig = await open();
    await rig.adapters.stream.append(entries.slice(0, half));
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let frozen = false;
    const snapshots = rig.adapters.snapshots;
    // a freezes (SIGSTOP) inside its publish, before it reads the latest version to publish its full after.
    const freezing = Object.assign(Object.create(snapshots), {
      latest: async (name: string) => {
        if (frozen) await woken;
        return snapshots.latest(name);
      },
    });
    const a = await learner({ ...rig, adapters: { ...rig.adapters, snapshots: freezing } }, "a", options);
    const aToken = (await rig.adapters.leases.acquire(a.name, "a", A_TTL_MS))!;
    await a.start(aToken);
    await a.step(T);
    frozen = true;
    const aCheckpoint = a.checkpoint(T);
    while (!(await rig.adapters.leases.fencedRead(a.name, "checkpoint"))) await new Promise((r) => setImmediate(r));
    await rig.lapse(A_TTL_MS + 100); // the checkpoint was accepted; a stays frozen past its ttl; b takes over
    const b = await learner(rig, "b", options);
    await b.start((await rig.adapters.leases.acquire(b.name, "b", 60_000))!);
    await rig.adapters.stream.append(entries.slice(half));
    await drain(b);
    wake(); // a publishes its full of half the stream at the latest version + 1: the fence refuses it
    await expect(aCheckpoint).rejects.toBeInstanceOf(LeaseLostError);
    const versions = await snapshots.since(policySnapshotName("p"), undefined);
    const last = decodePolicyVersion(versions[versions.length - 1]!.bytes);
    expect(last.kind).toBe("full");
    if (last.kind === "full") expect(policyFingerprint(last.policy)).toBe(fingerprint(b));
  });

  it("a holder frozen between its accepted checkpoint and its policy save is refused by the policy store on waking", async () => {
    const half = Math.floor(entries.length / 2);
    const options = { checkpointMs: 3_600_000, persistEvery: 1 }; // every checkpoint saves the policy
    const rig = await open();
    await rig.adapters.stream.append(entries.slice(0, half));
    const policies = await policyStore(await rig.policies?.()); // one store for both holders
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let frozenAt!: () => void;
    const atSave = new Promise<void>((resolve) => (frozenAt = resolve));
    let frozen = false;
    // a freezes (SIGSTOP) in its save, after its checkpoint and publish were accepted (at the read that looks
    // for a re-registration before saving: the stored revision).
    const freezing = Object.assign(Object.create(policies), {
      revision: async (id: string) => {
        if (frozen) {
          frozenAt();
          await woken;
        }
        return policies.revision(id);
      },
    });
    const a = await learner(rig, "a", options, freezing);
    await a.start((await rig.adapters.leases.acquire(a.name, "a", A_TTL_MS))!);
    await a.step(T);
    const aUpdates = a.policy!.updates;
    frozen = true;
    const aCheckpoint = a.checkpoint(T);
    await atSave;
    await rig.lapse(A_TTL_MS + 100); // a stays frozen past its ttl; b takes over and saves what it learned
    const b = await learner(rig, "b", options, policies);
    await b.start((await rig.adapters.leases.acquire(b.name, "b", 60_000))!);
    await rig.adapters.stream.append(entries.slice(half));
    await drain(b);
    const saved = (await policies.load("p"))!;
    expect(saved.savedAt).toBe(END);
    expect(saved.snapshot.progress.updates).toBe(b.policy!.updates);
    expect(b.policy!.updates).toBeGreaterThan(aUpdates);

    wake(); // a saves its policy of half the stream: the fence refuses it, and a's term ends
    await expect(aCheckpoint).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.status()).toBeUndefined();
    const after = (await policies.load("p"))!;
    expect(after.savedAt).toBe(END);
    expect(after.snapshot.progress.updates).toBe(b.policy!.updates);
  });
}

describe("learner duty: failover on the memory adapters", () => {
  failoverSuite(async () => {
    const leaseClock = new ManualClock(T);
    return {
      adapters: {
        stream: createMemoryDecisionStream({ partitions: 3, clock: new ManualClock(T) }),
        leases: createMemoryLeaseStore(leaseClock),
        snapshots: createMemorySnapshotStore(),
      },
      lapse: async (ms) => void leaseClock.advance(ms),
    };
  });

  it("ignores duplicates: the stream with every entry appended twice learns the same as once", async () => {
    const open = (): Rig => ({
      adapters: {
        stream: createMemoryDecisionStream({ partitions: 2 }),
        leases: createMemoryLeaseStore(new ManualClock(T)),
        snapshots: createMemorySnapshotStore(),
      },
      lapse: async () => {},
    });
    const once = open();
    const twice = open();
    await once.adapters.stream.append(entries);
    await twice.adapters.stream.append(entries.flatMap((e) => [e, e]));
    const runs: LearnerDuty[] = [];
    for (const rig of [once, twice]) {
      const duty = await learner(rig, "w");
      await duty.start((await rig.adapters.leases.acquire(duty.name, "w", 60_000))!);
      await drain(duty);
      runs.push(duty);
    }
    expect(runs[1]!.policy!.updates).toBe(expectedJoin(entries).slots);
    expect(fingerprint(runs[1]!)).toBe(fingerprint(runs[0]!));
  });
});

describe("learner duty steps", () => {
  it("says a step that applied entries is not idle, and one that found nothing is (the runner backs off on it)", async () => {
    const rig: Rig = {
      adapters: {
        stream: createMemoryDecisionStream({ partitions: 2 }),
        leases: createMemoryLeaseStore(new ManualClock(T)),
        snapshots: createMemorySnapshotStore(),
      },
      lapse: async () => {},
    };
    await rig.adapters.stream.append(entries);
    const duty = await learner(rig, "w");
    await duty.start((await rig.adapters.leases.acquire(duty.name, "w", 60_000))!);
    expect(await duty.step(T)).toBeUndefined();
    expect(duty.status()!.applied).toBeGreaterThan(0);
    await drain(duty);
    expect(await duty.step(END)).toBe("idle");
  });
});

describe("learner duty and the policy store", () => {
  it("saves what it learned to the store, and follows a re-registration there", async () => {
    const clock = new ManualClock(T);
    const adapters = {
      stream: createMemoryDecisionStream({ partitions: 2 }),
      leases: createMemoryLeaseStore(clock),
      snapshots: createMemorySnapshotStore(),
    };
    const policies = await policyStore();
    const ctx = learnerContext({ adapters, policies, clock, workerId: "w", windowMs: WINDOW });
    const duty = createLearnerDuty(ctx, "p", { persistEvery: 1, checkpointEvery: 50, maxEntriesPerStep: 50 });
    await duty.start((await adapters.leases.acquire(duty.name, "w", 60_000))!);
    await adapters.stream.append(entries);
    for (let i = 0; i < 4; i++) await duty.step(T + 60_000 * i);
    const saved = (await policies.load("p"))!.snapshot;
    expect(saved.progress.updates).toBe(duty.policy!.updates);
    expect(saved.progress.updates).toBeGreaterThan(0);

    const respecified = { ...TEST_POLICY_SPEC, params: { ...TEST_POLICY_SPEC.params, explorationScale: 0.1 } };
    await policies.save(createPolicy("p", respecified, 2).snapshot(), T); // an API node re-registered "p"
    await duty.step(END); // its checkpoint notices the newer revision
    expect(duty.policy!.version).toBe(2);
    expect(duty.policy!.updates).toBe(0);
    await duty.step(END + 60_000); // the next checkpoint publishes the new policy whole
    const latest = await adapters.snapshots.latest("policy:p");
    expect(latest!.kind).toBe("full");
  });
});

// With PostgreSQL, the policy is saved where scale-out saves it: Redis tokens, the fence in PostgreSQL.
const schemas = testSchemas();
const withPostgres = postgresAvailable("the learner's fenced policy saves");

describeOnRedis("learner duty failover", (redis) => {
  failoverSuite(async () => {
    const client = redis.client();
    const keyPrefix = redis.freshPrefix();
    return {
      adapters: {
        stream: createRedisDecisionStream(client, { partitions: 3, keyPrefix }),
        leases: createRedisLeaseStore(client, keyPrefix),
        snapshots: createRedisSnapshotStore(client, { keyPrefix }),
      },
      lapse: (ms) => new Promise((r) => setTimeout(r, ms)),
      ...(withPostgres ? { policies: async () => new PostgresPolicyStore(await schemas.open()) } : {}),
    };
  });
});
