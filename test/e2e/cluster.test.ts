import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PolicySnapshot } from "../../src/bandit/base-policy.js";
import { policyFingerprint } from "../../src/duties/learner-snapshots.js";
import { createRedisLeaseStore } from "../../src/storage/redis/lease-store-redis.js";
import { clusterAvailable, holdsDuty, type Node, startCluster, type TestCluster } from "./cluster-harness.js";
import {
  dutyMetric,
  streamEntries as entriesOf,
  keepStreamHistory,
  learnerHolder,
  publishedPolicy,
  replayedPolicy,
  streamDelivered,
} from "./cluster-learner.js";
import { learnedFromLog, simulateAcrossNodes } from "./cluster-sim.js";
import { killHard, postJson } from "./server-process.js";

/** What this file reads of `GET /v1/overview` (dashboard/overview.ts). */
interface Overview {
  scope: "cluster" | "process";
  defaultPolicy: string | null;
  policies: { policy: string; decisionsTotal: number; lastHour: { decisions: number } }[];
}

const run = clusterAvailable("the multi-process cluster e2e tests (2 API nodes + 2 workers)");
const LEASE_TTL_MS = 3000;
const REWARD_WINDOW_MS = 2000; // the harness's LOOPWISE_REWARD_WINDOW

/**
 * Issue 13's scale-out on loopback: 2 API processes and 2 worker processes on one PostgreSQL schema and one
 * Redis prefix of their own: a reward on the other node, learning across nodes from the stream, kill -9 of an
 * API node, and a worker's lease handed to the standby.
 */
describe.skipIf(!run)("two API nodes and two workers on one Redis and one PostgreSQL", () => {
  let cluster: TestCluster;
  let db: pg.Client;
  beforeAll(async () => {
    cluster = await startCluster({ apis: 2, workers: 2, leaseTtl: `${LEASE_TTL_MS}ms` });
    db = await cluster.db();
    await keepStreamHistory(cluster);
  }, 400_000);
  afterAll(async () => cluster?.stop(), 60_000);

  const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];
  const post = (node: Node, path: string, body: unknown) => postJson(`${node.url}${path}`, body, cluster.adminKey);

  const streamEntries = () => entriesOf(cluster);

  it("accepts a reward on node B for a decision node A served, and joins it once", async () => {
    const [a, b] = cluster.apis as [Node, Node];
    const ranked = await post(a, "/v1/rank", { userId: "u1", candidates, slots: 2 });
    expect(ranked.status).toBe(200);
    const decisionId = ranked.body.decisionId as string;
    const itemId = (ranked.body.ranking as { id: string }[])[0]?.id;
    const reward = await post(b, `/v1/decisions/${decisionId}/reward`, { rewardId: "rw-cross", value: 1, itemId });
    expect(reward.status).toBe(200);
    expect(reward.body).toMatchObject({ decisionId, status: "accepted" });
    // The client retries on A (it lost B's answer): a duplicate, not a second reward.
    const retried = await post(a, `/v1/decisions/${decisionId}/reward`, { rewardId: "rw-cross", value: 1, itemId });
    expect(retried.body).toMatchObject({ status: "duplicate" });
    const { rows } = await db.query("SELECT reward_id, late, ignored FROM rewards WHERE decision_id = $1", [
      decisionId,
    ]);
    expect(rows).toEqual([{ reward_id: "rw-cross", late: false, ignored: false }]);
    // Both nodes appended what they wrote to the stream, the retry too (consumers deduplicate by id).
    const entries = await streamEntries();
    expect(entries.filter((e) => e.kind === "decision" && e.decision.decisionId === decisionId)).toHaveLength(1);
    expect(entries.filter((e) => e.kind === "reward" && e.reward.rewardId === "rw-cross")).toHaveLength(2);
  }, 30_000);

  const getJson = async (node: Node, path: string) => {
    const res = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${cluster.adminKey}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Polls until `done` holds (a wait with room for a loaded machine, not a timing assertion). */
  const eventually = async (done: () => Promise<boolean>, limitMs: number): Promise<boolean> => {
    for (const until = Date.now() + limitMs; Date.now() < until; ) {
      if (await done()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return done();
  };

  it("the simulator drives both API nodes, rewards on the node that did not serve: the learner learns every slot the log resolves, each reward once, and both nodes serve its version", async () => {
    const policyId = "e2e-sim";
    const { report, stats } = await simulateAcrossNodes(cluster, policyId);
    // Traffic reached both nodes, every reward went to the other node, and nothing failed (503s were retried).
    expect(report.errorsByCode).toEqual({});
    expect(stats.requestsPerNode.every((n) => n > 0)).toBe(true);
    expect(stats.rewardsUnrouted).toBe(0);
    expect(stats.rewardsToOtherNode).toBeGreaterThan(0);
    // Staleness is visible, not asserted (a timing): a decision served past workers.maxStaleness says
    // policy_stale:<id> in its fallbacks, for the simulated policy only (on a loaded machine some do).
    const stale = Object.keys(report.fallbacks).filter((f) => f.startsWith("policy_stale"));
    expect(stale.every((f) => f === `policy_stale:${policyId}`)).toBe(true);

    // The log's join of what PostgreSQL holds: once every window closed, the learner has learned each resolved
    // slot once, with the same rewards (a reward learned twice, or lost, changes the sum).
    const log = await learnedFromLog(cluster, policyId, { windowMs: REWARD_WINDOW_MS });
    expect(log.decisions).toBe(report.policies.find((p) => p.policyId === policyId)?.decisions);
    expect(log.rewardedSlots).toBeGreaterThan(0);
    const learned = await eventually(
      async () => (await publishedPolicy(cluster, policyId))?.snapshot().progress.updates === log.slots,
      25_000,
    );
    const progress = (await publishedPolicy(cluster, policyId))?.snapshot().progress;
    expect({ learned, updates: progress?.updates }).toEqual({ learned: true, updates: log.slots });
    expect(progress?.rewardSum).toBeCloseTo(log.rewardSum, 6);
    // Both API nodes follow the learner's snapshots to one version with the same learning.
    const views = async () =>
      Promise.all(
        cluster.apis.map(async (n) => {
          const { body } = await getJson(n, `/v1/policies/${policyId}`);
          return { version: body.version, updates: (body.progress as { updates: number }).updates };
        }),
      );
    const same = await eventually(async () => {
      const [x, y] = await views();
      return x?.updates === log.slots && x.version === y?.version && y?.updates === log.slots;
    }, 10_000);
    expect({ same, views: await views() }).toMatchObject({ same: true });
  }, 45_000);

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Registers `policyId` on `node` and waits until a worker runs its learner: who holds it, and the policy as registered. */
  async function registerLearned(node: Node, policyId: string) {
    expect((await post(node, "/v1/policies", { id: policyId, type: "epsilon-greedy" })).status).toBe(201);
    let holder: Awaited<ReturnType<typeof learnerHolder>>;
    const started = await eventually(async () => {
      holder = await learnerHolder(cluster, policyId);
      return holder !== undefined && (await publishedPolicy(cluster, policyId)) !== undefined;
    }, 20_000);
    expect(started).toBe(true);
    // Before any traffic of its own the learner has published the policy exactly as registered.
    const initial = (await publishedPolicy(cluster, policyId))?.snapshot();
    expect(initial?.progress.updates).toBe(0);
    const { active, standby, token } = holder!;
    if (!standby) throw new Error("no standby worker is running");
    return { active, standby, token, initial: initial! };
  }

  /**
   * Decision `i` of `policyId` served by one API node (alternating), its slot `i % 2` rewarded on the other
   * node: every decision resolves 2 slots when its window closes.
   */
  async function decideAndReward(policyId: string, i: number): Promise<void> {
    const [served, other] = (i % 2 === 0 ? cluster.apis : [...cluster.apis].reverse()) as [Node, Node];
    const ranked = await post(served, "/v1/rank", { userId: `${policyId}-u${i}`, policyId, candidates, slots: 2 });
    expect(ranked.status).toBe(200);
    const itemId = (ranked.body.ranking as { id: string }[])[i % 2]?.id;
    const reward = { rewardId: `${policyId}-rw${i}`, value: 1, itemId };
    expect((await post(other, `/v1/decisions/${ranked.body.decisionId}/reward`, reward)).status).toBe(200);
  }

  /** Both API nodes serve `policyId` with `slots` updates learned (every window closed and learned once). */
  const learnedEverywhere = async (policyId: string, slots: number) =>
    eventually(async () => {
      const views = await Promise.all(cluster.apis.map((n) => getJson(n, `/v1/policies/${policyId}`)));
      return views.every((v) => (v.body.progress as { updates?: number } | undefined)?.updates === slots);
    }, 20_000);

  /** The learner's last published policy equals, bit for bit, one uninterrupted learner fed the whole stream. */
  async function expectEqualToReplay(policyId: string, initial: PolicySnapshot, slots: number): Promise<void> {
    const published = await publishedPolicy(cluster, policyId);
    const replayed = await replayedPolicy(await streamDelivered(cluster), initial, REWARD_WINDOW_MS);
    expect(replayed.updates).toBe(slots);
    expect(published?.updates).toBe(slots);
    expect(policyFingerprint(published!.snapshot())).toBe(policyFingerprint(replayed.snapshot()));
  }

  it("SIGSTOP of the learner's holder past its lease, then SIGCONT: the standby keeps the lease, the old holder is fenced out and stands by, and every slot is learned once", async () => {
    const policyId = "e2e-stop";
    const { active, standby, token, initial } = await registerLearned(cluster.apis[1] as Node, policyId);
    const duty = `learner:${policyId}`;
    let i = 0;
    for (; i < 8; i++) await decideAndReward(policyId, i);
    process.kill(active.pid, "SIGSTOP");
    let takenOver: Awaited<ReturnType<typeof learnerHolder>>;
    try {
      for (; i < 16; i++) await decideAndReward(policyId, i); // served while the holder is frozen
      // Its lease lapses unrenewed after the ttl; the standby's next tick takes it (polled, not timed).
      const leases = createRedisLeaseStore(cluster.redis, cluster.prefix);
      const moved = await eventually(async () => {
        // The frozen node's /metrics cannot answer: ask the lease first, then the standby.
        if (!(await leases.current(duty))?.holder.endsWith(`:${standby.pid}`)) return false;
        takenOver = await learnerHolder(cluster, policyId);
        return takenOver?.active === standby;
      }, 6 * LEASE_TTL_MS);
      expect(moved).toBe(true);
      expect(takenOver!.token).toBeGreaterThan(token);
      // A step the freeze caught mid-way reads on waking; duties read by position (duties/partition-merge.ts),
      // so what it reads is a copy, not taken from the new holder (src/duties/learner-duty.test.ts reproduces
      // that), and it writes nothing the new holder or the followers read without its token being checked.
    } finally {
      process.kill(active.pid, "SIGCONT");
    }
    // Woken, the old holder finds its lease gone (renewal refused for its token) and stops the duty.
    const fencedOut = await eventually(
      async () => (await dutyMetric(active, cluster.adminKey, "loopwise_duty_held", duty)) === 0,
      3 * LEASE_TTL_MS,
    );
    expect(fencedOut).toBe(true);
    for (; i < 24; i++) await decideAndReward(policyId, i);
    expect(await learnedEverywhere(policyId, 2 * i)).toBe(true);
    // The standby kept the lease with its token; a checkpoint written with the old token is refused.
    const now = await learnerHolder(cluster, policyId);
    expect({ holder: now?.active.pid, token: now?.token }).toEqual({ holder: standby.pid, token: takenOver!.token });
    const leases = createRedisLeaseStore(cluster.redis, cluster.prefix);
    const checkpoint = await leases.fencedRead(duty, "checkpoint");
    expect(await leases.fencedWrite(duty, token, "checkpoint", new Uint8Array([1, 2, 3]))).toBe(false);
    expect(Buffer.from((await leases.fencedRead(duty, "checkpoint"))!).equals(Buffer.from(checkpoint!))).toBe(true);
    await expectEqualToReplay(policyId, initial, 2 * i);
  }, 30_000);

  it("kill -9 of the worker holding learner:<policy> under traffic: the standby takes the lease and ends equal to an uninterrupted replay, every slot once", async () => {
    const policyId = "e2e-kill";
    const { active, standby, token, initial } = await registerLearned(cluster.apis[0] as Node, policyId);
    const decisions = 24;
    for (let i = 0; i < decisions; i++) {
      if (i === 10) await killHard(active.child); // mid-traffic: the next decisions land while nobody learns
      await decideAndReward(policyId, i);
      await sleep(50);
    }
    const tookOver = await eventually(
      async () => (await learnerHolder(cluster, policyId))?.active === standby,
      6 * LEASE_TTL_MS,
    );
    expect(tookOver).toBe(true);
    expect((await learnerHolder(cluster, policyId))?.token).toBeGreaterThan(token);
    expect(await learnedEverywhere(policyId, 2 * decisions)).toBe(true);
    await expectEqualToReplay(policyId, initial, 2 * decisions);
  }, 30_000);

  it("every node's dashboard overview counts the decisions both API nodes served (the dashboard-fold duty's minutes)", async () => {
    // After the learner's worker was killed -9: whichever worker holds dashboard-fold now counts both nodes.
    const [a, b] = cluster.apis as [Node, Node];
    for (let i = 0; i < 8; i++) {
      const node = i % 3 === 0 ? b : a;
      expect((await post(node, "/v1/rank", { userId: `dash-u${i}`, candidates, slots: 2 })).status).toBe(200);
    }
    const overview = async (node: Node) => (await getJson(node, "/v1/overview")).body as unknown as Overview;
    const policyId = (await overview(a)).defaultPolicy as string;
    // What PostgreSQL holds of the default policy: every decision either node served so far, this test's included.
    const { rows } = await db.query("SELECT count(*)::int AS n FROM decisions WHERE policy_id = $1", [policyId]);
    const logged = (rows[0] as { n: number }).n;
    const rowOf = (o: Overview) => o.policies.find((p) => p.policy === policyId);
    const counted = await eventually(async () => {
      const views = await Promise.all(cluster.apis.map(overview));
      return views.every((o) => o.scope === "cluster" && rowOf(o)?.lastHour.decisions === logged);
    }, 20_000);
    const views = await Promise.all(cluster.apis.map(overview));
    expect({ counted, lastHour: views.map((o) => rowOf(o)?.lastHour.decisions) }).toEqual({
      counted: true,
      lastHour: [logged, logged],
    });
    // Each node served only part of them itself (its own counter): the overview's count is the cluster's.
    for (const o of views) expect(rowOf(o)?.decisionsTotal ?? 0).toBeLessThan(logged);
  }, 30_000);

  it("keeps every acknowledged write in PostgreSQL exactly once, and in the stream, through a kill -9 of an API node", async () => {
    const node = cluster.apis[0] as Node;
    const acked = { decisions: [] as string[], events: [] as string[], rewards: [] as string[] };
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await post(node, "/v1/rank", { userId: `k${c}`, candidates, slots: 2 });
          if (r.status !== 200) continue;
          const decisionId = r.body.decisionId as string;
          acked.decisions.push(decisionId);
          const [first, second] = (r.body.ranking as { id: string }[]).map((x) => x.id);
          const event = { type: "click", userId: `k${c}`, itemId: first, decisionId, eventId: `ev-${c}-${i}` };
          if ((await post(node, "/v1/events", { events: [event] })).status === 200) acked.events.push(event.eventId);
          const reward = { value: 2, rewardId: `rw-${c}-${i}`, itemId: second };
          const w = await post(node, `/v1/decisions/${decisionId}/reward`, reward);
          if (w.status === 200) acked.rewards.push(reward.rewardId);
        } catch {
          return; // the node died under us: in-flight requests were never acknowledged
        }
      }
    };
    const clients = Array.from({ length: 4 }, (_, c) => client(c));
    for (let waited = 0; waited < 15_000 && (waited < 1500 || acked.decisions.length < 30); waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await killHard(node.child);
    stop = true;
    await Promise.all(clients);
    expect(acked.decisions.length).toBeGreaterThanOrEqual(30);

    const countsOf = async (table: string, column: string, ids: string[]) => {
      const { rows } = await db.query(
        `SELECT ${column} AS id, count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1) GROUP BY ${column}`,
        [ids],
      );
      const counts = new Map(rows.map((r: { id: string; n: number }) => [r.id, r.n]));
      return ids.filter((id) => counts.get(id) !== 1);
    };
    expect(await countsOf("decisions", "decision_id", acked.decisions)).toEqual([]);
    expect(await countsOf("events", "event_id", acked.events)).toEqual([]);
    expect(await countsOf("rewards", "reward_id", acked.rewards)).toEqual([]);
    // Acknowledged means appended too (the append is awaited before the answer, and none failed here).
    const entries = await streamEntries();
    const inStream = new Set(
      entries.flatMap((e) =>
        e.kind === "decision"
          ? [e.decision.decisionId]
          : e.kind === "event"
            ? [e.event.eventId]
            : e.kind === "reward"
              ? [e.reward.rewardId]
              : [],
      ),
    );
    const missing = [...acked.decisions, ...acked.events, ...acked.rewards].filter((id) => !inStream.has(id));
    expect(missing).toEqual([]);
  }, 30_000);

  describe("after the killed learner's worker was restarted", () => {
    // A supervisor restarts a killed worker: the next failover has a standby again.
    beforeAll(async () => {
      for (const w of [...cluster.workers])
        if (w.child.exitCode !== null || w.child.signalCode) await cluster.replaceWorker(w);
    }, 200_000);

    it("hands stream-trim to the standby worker when its holder is killed -9", async () => {
      const leases = createRedisLeaseStore(cluster.redis, cluster.prefix);
      let holder: string | undefined;
      for (let i = 0; i < 100 && !holder; i++) {
        holder = (await leases.current("stream-trim"))?.holder;
        if (!holder) await new Promise((r) => setTimeout(r, 100));
      }
      const active = cluster.workers.find((w) => holder?.endsWith(`:${w.pid}`));
      const standby = cluster.workers.find((w) => w !== active) as Node;
      if (!active) throw new Error(`no worker holds stream-trim (lease holder: ${holder})`);
      const tokenBefore = (await leases.current("stream-trim"))?.token as number;
      expect(await holdsDuty(active, cluster.adminKey, "stream-trim")).toBe(true);
      expect(await holdsDuty(standby, cluster.adminKey, "stream-trim")).toBe(false);

      await killHard(active.child);
      // The lease lapses after its ttl; the standby's next tick (every ttl / 3) takes it. Polled, with room for a
      // loaded machine; how long it took is not asserted.
      let tookOver = false;
      for (let waited = 0; waited < 6 * LEASE_TTL_MS && !tookOver; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        tookOver = await holdsDuty(standby, cluster.adminKey, "stream-trim");
      }
      expect(tookOver).toBe(true);
      const after = await leases.current("stream-trim");
      expect(after?.holder.endsWith(`:${standby.pid}`)).toBe(true);
      expect(after?.token).toBeGreaterThan(tokenBefore);
    }, 30_000);
  });
});
