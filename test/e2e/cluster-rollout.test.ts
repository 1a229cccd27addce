import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArmTruth } from "../../src/app/rollout-traffic.js";
import { rngFor } from "../../src/core/rng.js";
import { ARMS, type Arm } from "../../src/rollout/rollout-types.js";
import { createRedisDecisionStream } from "../../src/storage/redis/decision-stream-redis.js";
import { clusterAvailable, type Node, startCluster, type TestCluster } from "./cluster-harness.js";
import { postJson } from "./server-process.js";

const run = clusterAvailable("the multi-process rollout e2e tests (2 API nodes + 2 workers)");

/** The same truth as app/rollout-follower.test.ts: a click probability per decision, conversion per session. */
const INCUMBENT: ArmTruth = { ctr: 0.3, conversion: 0.1, value: 40 };
const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];
/** Decisions per arm before a stage may advance: more than two rounds of traffic can give the candidate. */
const MIN_SAMPLE = 25;
/** Sessions per round of the promotion test: at 3 decisions each, two rounds serve the candidate at most 24. */
const ROUND_SESSIONS = 4;

interface RolloutView {
  status: string;
  stage: number;
  arms: Record<Arm, { decisions: number; clicks: number; purchases: number }> | null;
  history: { action: string; toStage: number; reasons: { code: string }[] }[];
}

/**
 * Issue 13, "a rollout advances and rolls back from the counts of both nodes", across processes: 2 API nodes
 * route from their copy of the rollout store (app/rollout-follower.ts) and append exposures to the Redis
 * stream; the worker holding the rollout-controller lease (duties/rollout-duty.ts) counts both nodes'
 * exposures and events and moves the stages in PostgreSQL. Traffic: users whose click and purchase
 * probabilities depend on the arm that served them (the in-process test's model), each session's decisions
 * spread over both nodes and its clicks sent to the node that did not serve the decision.
 */
describe.skipIf(!run)("a rollout across two API nodes and two workers", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ apis: 2, workers: 2, leaseTtl: "3000ms" });
  }, 400_000);
  afterAll(async () => cluster?.stop(), 60_000);

  const post = (node: Node, path: string, body: unknown) => postJson(`${node.url}${path}`, body, cluster.adminKey);
  const view = async (node: Node, id: string): Promise<RolloutView> => {
    const res = await fetch(`${node.url}/v1/rollouts/${id}`, {
      headers: { authorization: `Bearer ${cluster.adminKey}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as RolloutView;
  };
  /** Polls until `done` holds (a wait with room for a loaded machine, not a timing assertion). */
  const eventually = async (done: () => Promise<boolean>, limitMs: number): Promise<boolean> => {
    for (const until = Date.now() + limitMs; Date.now() < until; ) {
      if (await done()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return done();
  };

  /** Registers the policies on node A and starts the rollout on node B once B follows them. */
  async function startRollout(candidate: string, incumbent: string, config: Record<string, unknown>) {
    const [a, b] = cluster.apis as [Node, Node];
    for (const id of [candidate, incumbent]) {
      // The incumbent may be the last test's candidate, registered already.
      if ((await fetch(`${a.url}/v1/policies/${id}`, authorized())).status === 200) continue;
      expect((await post(a, "/v1/policies", { id, type: "epsilon-greedy" })).status).toBe(201);
    }
    const known = async () => {
      const statuses = await Promise.all(
        [candidate, incumbent].map(async (id) => (await fetch(`${b.url}/v1/policies/${id}`, authorized())).status),
      );
      return statuses.every((s) => s === 200);
    };
    expect(await eventually(known, 15_000)).toBe(true);
    // A rollout a failed test left running would share the traffic: each test starts from none.
    const listed = await (await fetch(`${b.url}/v1/rollouts`, authorized())).json();
    for (const r of (listed as { rollouts: { id: string; status: string }[] }).rollouts) {
      if (r.status === "running" || r.status === "paused") await post(b, `/v1/rollouts/${r.id}/abort`, {});
    }
    const started = await post(b, "/v1/rollouts", { candidate, incumbent, opeGate: false, ...config });
    expect(started.status).toBe(201);
    return started.body.id as string;
  }
  const authorized = () => ({ headers: { authorization: `Bearer ${cluster.adminKey}` } });

  /** What the nodes served in rollout arms (decisions per node and per arm), and the events sent for them. */
  interface Served {
    perNode: [number, number];
    perArm: Record<Arm, number>;
    clicks: Record<Arm, number>;
    purchases: Record<Arm, number>;
    rolloutIds: Set<string>;
  }
  const perArm = () => ({ candidate: 0, incumbent: 0 });
  const noneServed = (): Served => ({
    perNode: [0, 0],
    perArm: perArm(),
    clicks: perArm(),
    purchases: perArm(),
    rolloutIds: new Set(),
  });
  const sendEvent = async (node: Node, event: Record<string, unknown>) => {
    const sent = await post(node, "/v1/events", { events: [event] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  };

  /**
   * One user's session of 3 ranks alternating the nodes. A decision's click goes to the node that did not
   * serve it, and every other click is retried on the serving node (same event id: it must count once); a
   * converting session's purchase goes to node A.
   */
  async function playSession(userId: string, first: 0 | 1, truth: Record<Arm, ArmTruth>, served: Served) {
    const rng = rngFor("cluster-rollout", userId);
    const nodes = cluster.apis as [Node, Node];
    const sessionId = `s-${userId}`;
    let arm: Arm | undefined;
    for (let d = 0; d < 3; d++) {
      const n = ((first + d) % 2) as 0 | 1;
      const ranked = await post(nodes[n], "/v1/rank", { userId, sessionId, candidates, slots: 2 });
      expect(ranked.status).toBe(200);
      const route = ranked.body.rollout as { id: string; arm: Arm } | undefined;
      if (!route) continue;
      arm = route.arm;
      served.perNode[n] += 1;
      served.perArm[arm] += 1;
      served.rolloutIds.add(route.id);
      if (rng.next() >= truth[arm].ctr) continue;
      const decisionId = ranked.body.decisionId as string;
      const itemId = (ranked.body.ranking as { id: string }[])[0]?.id;
      const click = { type: "click", eventId: `${decisionId}-c`, userId, sessionId, itemId, decisionId };
      await sendEvent(nodes[1 - n] as Node, click);
      if (served.clicks[arm]++ % 2 === 0) await sendEvent(nodes[n], click);
    }
    if (arm && rng.next() < truth[arm].conversion) {
      const value = truth[arm].value;
      await sendEvent(nodes[0], { type: "purchase", eventId: `${sessionId}-p`, userId, sessionId, itemId: "a", value });
      served.purchases[arm] += 1;
    }
  }

  /** Plays `sessions` sessions of new users, 6 at a time. */
  async function drive(tag: string, sessions: number, truth: Record<Arm, ArmTruth>, served: Served) {
    let next = 0;
    const worker = async () => {
      for (let s = next++; s < sessions; s = next++)
        await playSession(`u-${tag}-${s}`, (s % 2) as 0 | 1, truth, served);
    };
    await Promise.all(Array.from({ length: 6 }, worker));
  }

  /** The exposures of one rollout in the cluster's decision stream (nothing is trimmed during the tests). */
  async function exposuresInStream(rolloutId: string): Promise<number> {
    const stream = createRedisDecisionStream(cluster.redis, { partitions: 16, keyPrefix: cluster.prefix });
    let count = 0;
    for (let p = 0; p < stream.partitions; p++) {
      for (let after: string | undefined; ; ) {
        const page = await stream.range(p, after, 1000);
        count += page.filter((d) => d.entry.kind === "exposure" && d.entry.exposure.rolloutId === rolloutId).length;
        if (page.length < 1000) break;
        after = page[page.length - 1]?.id;
      }
    }
    return count;
  }

  const sameEvents = (v: RolloutView, served: Served) =>
    ARMS.every(
      (arm) => v.arms?.[arm].clicks === served.clicks[arm] && v.arms?.[arm].purchases === served.purchases[arm],
    );
  const counted = (v: RolloutView) => (v.arms?.candidate.decisions ?? 0) + (v.arms?.incumbent.decisions ?? 0);

  it("advances a better candidate stage by stage, counting the exposures of both nodes", async () => {
    const [a, b] = cluster.apis as [Node, Node];
    const id = await startRollout("better", "baseline", {
      stages: [25, 50, 100],
      minHold: "1s",
      minSamplePerArm: MIN_SAMPLE,
    });
    const truth = { candidate: { ctr: 0.45, conversion: 0.2, value: 40 }, incumbent: INCUMBENT };
    const served = noneServed();
    let checkedWhileRunning = 0;
    const stagesSeen = new Set<number>();
    for (let round = 0; round < 60 && (await view(a, id)).status === "running"; round++) {
      await drive(`better-${round}`, ROUND_SESSIONS, truth, served);
      const total = served.perNode[0] + served.perNode[1];
      // Once the duty has read every exposure, its counters equal what both nodes served (read on either node;
      // if they never catch up, the comparisons below say by how much).
      let last: RolloutView | undefined;
      await eventually(async () => {
        last = await view(round % 2 === 0 ? a : b, id);
        return last.status !== "running" || (counted(last) === total && sameEvents(last, served));
      }, 10_000);
      if (last?.status === "running") {
        expect(counted(last)).toBe(total);
        expect(last.arms?.candidate.decisions).toBe(served.perArm.candidate);
        // Clicks and purchases counted once each, retries to the other node included.
        expect(last.arms).toMatchObject({
          candidate: { clicks: served.clicks.candidate, purchases: served.purchases.candidate },
          incumbent: { clicks: served.clicks.incumbent, purchases: served.purchases.incumbent },
        });
        checkedWhileRunning++;
        stagesSeen.add(last.stage);
        // Below the minimum sample (counted over both nodes) it cannot have left its first stage.
        if (served.perArm.candidate < MIN_SAMPLE) expect(last.stage).toBeLessThanOrEqual(25);
      }
    }
    const final = await eventually(async () => (await view(b, id)).status === "completed", 15_000);
    const done = await view(b, id);
    expect({ final, status: done.status }).toEqual({ final: true, status: "completed" });
    expect(done.history.map((e) => `${e.action}->${e.toStage}`)).toEqual([
      "create->0",
      "advance->25",
      "advance->50",
      "complete->100",
    ]);
    // The worker's transitions are on the audit timeline (PostgreSQL), read on the other API node, as the
    // embedded controller's are: the controller acting, with the stages, reasons and statistics.
    const audit = await fetch(`${a.url}/v1/audit?targetKind=rollout&targetId=${id}&actor=controller`, {
      headers: { authorization: `Bearer ${cluster.adminKey}` },
    });
    const { entries } = (await audit.json()) as {
      entries: { action: string; actor: { name: string }; details: { toStage: number; reasons: unknown[] } }[];
    };
    expect(entries.filter((e) => e.action !== "rollout.hold").map((e) => `${e.action}->${e.details.toStage}`)).toEqual([
      "rollout.complete->100",
      "rollout.advance->50",
      "rollout.advance->25",
    ]);
    expect(entries.every((e) => e.actor.name === "controller" && e.details.reasons.length > 0)).toBe(true);
    // The counts were compared while the rollout ran, at 25 % at least (it cannot leave that stage before both
    // nodes together served MIN_SAMPLE candidate decisions: more than two rounds), and both nodes served its arms.
    expect(checkedWhileRunning).toBeGreaterThanOrEqual(2);
    expect([...stagesSeen]).toContain(25);
    expect(served.perNode.every((n) => n > 0)).toBe(true);
    expect(served.perArm.candidate).toBeGreaterThan(0);
    // Every routed decision appended exactly one exposure to the stream, whichever node served it.
    expect(await exposuresInStream(id)).toBe(served.perNode[0] + served.perNode[1]);
    expect([...served.rolloutIds]).toEqual([id]);
  }, 30_000);

  it("rolls back a clearly worse candidate from both nodes' counts, and then neither node routes to it", async () => {
    const [a, b] = cluster.apis as [Node, Node];
    // Held at 50 % (a long hold, a sample never reached): only a guardrail can end this rollout.
    const id = await startRollout("worse", "better", {
      stages: [50, 100],
      minHold: "1h",
      minSamplePerArm: 1_000_000,
      minSessionsForTest: 20,
      minExpectedEvents: 10,
    });
    const truth = { candidate: { ctr: 0.05, conversion: 0.02, value: 40 }, incumbent: INCUMBENT };
    const served = noneServed();
    for (let round = 0; round < 12 && (await view(a, id)).status === "running"; round++) {
      await drive(`worse-${round}`, 20, truth, served);
      await eventually(async () => (await view(b, id)).status !== "running", 1_000);
    }
    const rolledBack = await eventually(async () => (await view(a, id)).status === "rolled_back", 15_000);
    const done = await view(b, id);
    expect({ rolledBack, status: done.status }).toEqual({ rolledBack: true, status: "rolled_back" });
    const last = done.history.at(-1);
    expect(last?.action).toBe("rollback");
    expect(last?.reasons.map((r) => r.code)).toContain("guardrail_regression");
    // The decision was made from both nodes' traffic: what it counted came from decisions both served.
    expect(served.perNode.every((n) => n > 0)).toBe(true);
    expect(counted(done)).toBeGreaterThan(0);
    expect(counted(done)).toBeLessThanOrEqual(served.perNode[0] + served.perNode[1]);

    // Within a refresh of their copies, neither node routes to the rolled-back candidate any more.
    const routedAny = async (tag: string) => {
      const after = noneServed();
      await drive(tag, 10, truth, after);
      return after.perNode[0] + after.perNode[1] > 0;
    };
    let probe = 0;
    expect(await eventually(async () => !(await routedAny(`after-${probe++}`)), 15_000)).toBe(true);
    expect(await routedAny("after-final")).toBe(false);
  }, 30_000);
});
