import type { BasePolicy, PolicySnapshot } from "../../src/bandit/base-policy.js";
import { restorePolicy } from "../../src/bandit/policy-types.js";
import { ManualClock } from "../../src/core/clock.js";
import { createLearnerDuty } from "../../src/duties/learner-duty.js";
import { learnerContext } from "../../src/duties/learner-fixtures.js";
import { decodePolicyVersion, policySnapshotName } from "../../src/duties/learner-snapshots.js";
import { createMemoryDecisionStream } from "../../src/storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../../src/storage/memory/lease-store-memory.js";
import { MemoryPolicyStore } from "../../src/storage/memory/policy-store.js";
import { createMemorySnapshotStore } from "../../src/storage/memory/snapshot-store-memory.js";
import { createRedisDecisionStream } from "../../src/storage/redis/decision-stream-redis.js";
import { createRedisLeaseStore } from "../../src/storage/redis/lease-store-redis.js";
import { createRedisSnapshotStore } from "../../src/storage/redis/snapshot-store-redis.js";
import type { DeliveredEntry } from "../../src/stream/decision-stream.js";
import type { StreamEntry } from "../../src/stream/stream-entry.js";
import { holdsDuty, metricsOf, type Node, type TestCluster } from "./cluster-harness.js";

/** The partitions every node of the test cluster uses (config `stream.partitions` default). */
const PARTITIONS = 16;

/**
 * Keeps the whole stream for the tests that read its history: a consumer group that never reads, so no entry
 * is ever acked by every group and the stream-trim duty drops nothing. Its trim interval alone does not do it:
 * a worker that gains the stream-trim lease trims at once, and the failover tests move that lease.
 */
export async function keepStreamHistory(cluster: TestCluster): Promise<void> {
  const stream = createRedisDecisionStream(cluster.redis, { partitions: PARTITIONS, keyPrefix: cluster.prefix });
  await stream.ensureGroup("e2e-keep-history", "start");
}

/**
 * Every entry of the cluster's decision stream, partition by partition in id order (with `keepStreamHistory`
 * nothing was trimmed, so this is everything any learner read).
 */
export async function streamEntries(cluster: TestCluster): Promise<StreamEntry[]> {
  return (await streamDelivered(cluster)).map((d) => d.entry);
}

/** `streamEntries` with their partitions and ids. */
export async function streamDelivered(cluster: TestCluster): Promise<DeliveredEntry[]> {
  const stream = createRedisDecisionStream(cluster.redis, { partitions: PARTITIONS, keyPrefix: cluster.prefix });
  const out: DeliveredEntry[] = [];
  for (let p = 0; p < stream.partitions; p++) {
    for (let after: string | undefined; ; ) {
      const page = await stream.range(p, after, 1000);
      out.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.id;
    }
  }
  return out;
}

/**
 * The policy as the learner published it last on `policy:<id>`: the newest full, then the deltas after it
 * replayed with the policy's own `update` (what every API node's follower does, app/policy-follower.ts).
 */
export async function publishedPolicy(cluster: TestCluster, policyId: string): Promise<BasePolicy | undefined> {
  const snapshots = createRedisSnapshotStore(cluster.redis, { keyPrefix: cluster.prefix });
  let policy: BasePolicy | undefined;
  for (const { bytes } of await snapshots.since(policySnapshotName(policyId), undefined)) {
    const version = decodePolicyVersion(bytes);
    if (version.kind === "full") policy = restorePolicy(version.policy);
    else for (const update of version.updates) policy?.update(update);
  }
  return policy;
}

/**
 * An uninterrupted learner of `policyId` fed `entries`: a fresh in-process learner duty on the memory
 * adapters (as learner-duty.test.ts builds its reference), starting from `initial` (the policy as registered),
 * drained until it applies nothing more, then every window closed. The entries keep their partitions (one
 * partition function for both adapters), their order within each and their ids' milliseconds (an event's
 * merge time is capped at its append time, duties/partition-merge.ts), so the merge order is the cluster's.
 */
export async function replayedPolicy(
  delivered: readonly DeliveredEntry[],
  initial: PolicySnapshot,
  windowMs: number,
): Promise<BasePolicy> {
  const clock = new ManualClock(0);
  const appendClock = new ManualClock(0);
  const adapters = {
    stream: createMemoryDecisionStream({ partitions: PARTITIONS, clock: appendClock }),
    leases: createMemoryLeaseStore(clock),
    snapshots: createMemorySnapshotStore(),
  };
  for (const d of delivered) {
    appendClock.set(Number(d.id.slice(0, d.id.indexOf("-"))));
    await adapters.stream.append([d.entry]);
  }
  const policies = new MemoryPolicyStore();
  await policies.save(initial, 0);
  const ctx = learnerContext({ adapters, policies, clock, workerId: "replay", windowMs });
  const duty = createLearnerDuty(ctx, initial.id);
  await duty.start((await adapters.leases.acquire(duty.name, "replay", 60_000)) as number);
  // Clock 0: windows close on the stream's own time only; then at the end of time (the stream's last entries
  // settle only then, duties/partition-merge.ts), every one.
  const end = Date.now() + 3_600_000;
  for (const now of [0, end]) {
    for (let before = -1; duty.status()?.applied !== before; ) {
      before = duty.status()?.applied ?? 0;
      await duty.step(now);
    }
  }
  await duty.checkpoint(end);
  return duty.policy as BasePolicy;
}

/**
 * Who holds `learner:<policyId>` now (a worker whose runner started the duty, not only took the lease), the
 * fencing token, and the other live worker if there is one (the standby).
 */
export async function learnerHolder(
  cluster: TestCluster,
  policyId: string,
): Promise<{ active: Node; standby: Node | undefined; token: number } | undefined> {
  const lease = await createRedisLeaseStore(cluster.redis, cluster.prefix).current(`learner:${policyId}`);
  const active = cluster.workers.find((w) => lease?.holder.endsWith(`:${w.pid}`));
  if (!lease || !active || !(await holdsDuty(active, cluster.adminKey, `learner:${policyId}`))) return undefined;
  const standby = cluster.workers.find((w) => w !== active && w.child.exitCode === null && !w.child.signalCode);
  return { active, standby, token: lease.token };
}

/** A counter or gauge of one duty on a node's /metrics (0 when the series is not there yet). */
export async function dutyMetric(node: Node, adminKey: string, metric: string, duty: string): Promise<number> {
  const text = await metricsOf(node, adminKey);
  const line = text.split("\n").find((l) => l.startsWith(`${metric}{duty="${duty}"} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}
