import { randomBytes } from "node:crypto";
import { systemClock } from "../../src/core/clock.js";
import { DEFAULT_JOIN, type JoinConfig } from "../../src/decisions/join-config.js";
import { joinRewards } from "../../src/decisions/reward-join.js";
import { runSimulation } from "../../src/sim/driver/run-simulation.js";
import type { SimReport } from "../../src/sim/report.js";
import { createMultiNodeTarget, type MultiNodeStats } from "../../src/sim/targets/multi-node-target.js";
import { resolveScenario } from "../../src/sim/world/scenarios.js";
import { PostgresDecisionStore } from "../../src/storage/postgres/decision-store-postgres.js";
import { PostgresStore } from "../../src/storage/postgres/postgres-store.js";
import { CLUSTER_ENV, type TestCluster } from "./cluster-harness.js";

/**
 * A few seconds of the simulated shop across every API node of `cluster`: a small world (30 items, 200
 * users), sessions of 2 pages with 2 slots each, all served by `policyId` (registered by the simulator on the
 * first node; the target waits until every node serves it), clicks (on most shown items) and purchases a
 * fraction of a second after the rank, and each of them sent to the node that did not serve the decision.
 */
export async function simulateAcrossNodes(
  cluster: TestCluster,
  policyId: string,
): Promise<{ report: SimReport; stats: MultiNodeStats }> {
  const scenario = resolveScenario("default", {
    seed: 13,
    catalog: { items: 30, categories: 4 },
    users: { count: 200 },
    // Clicks on most shown items: every run has rewards to route to the other node, however few pages it served.
    clicks: { baseLogit: 1.5, positionDecay: 0 },
    sessions: {
      meanPages: 2,
      slots: 2,
      candidates: 6,
      thinkTimeSeconds: 0.3,
      clickDelaySeconds: 0.2,
      cartDelaySeconds: 0.2,
      purchaseDelaySeconds: 0.2,
    },
    policies: [{ id: policyId, type: "epsilon-greedy" }],
    split: [policyId],
  });
  const target = createMultiNodeTarget({
    urls: cluster.apis.map((n) => n.url),
    adminKey: cluster.adminKey,
    routing: "request",
  });
  try {
    const report = await runSimulation({
      scenario,
      target,
      mode: "realtime",
      clock: systemClock,
      durationMs: 3_000,
      rate: 8,
      drainMs: 10_000,
      runId: `sim-${randomBytes(3).toString("hex")}`,
    });
    return { report, stats: target.stats() };
  } finally {
    await target.close();
  }
}

/**
 * What the durable log says `policyId` should have learned: every decision in PostgreSQL through the one
 * reward join (decisions/reward-join.ts) with every window closed: slots resolved and the sum of their rewards.
 */
export async function learnedFromLog(
  cluster: TestCluster,
  policyId: string,
  join: Partial<JoinConfig>,
): Promise<{ decisions: number; slots: number; rewardSum: number; rewardedSlots: number }> {
  const store = await PostgresStore.open({ url: CLUSTER_ENV.postgres as string, schema: cluster.schema, max: 2 });
  const config = { ...DEFAULT_JOIN, ...join };
  const totals = { decisions: 0, slots: 0, rewardSum: 0, rewardedSlots: 0 };
  try {
    for await (const page of new PostgresDecisionStore(store).scan()) {
      for (const entry of page) {
        if (entry.decision.policy.id !== policyId) continue;
        totals.decisions++;
        for (const slot of joinRewards(entry, config, Number.MAX_SAFE_INTEGER).slots) {
          if (slot.reward === undefined) continue; // never activated: nothing to learn
          totals.slots++;
          totals.rewardSum += slot.reward;
          if (slot.status === "joined") totals.rewardedSlots++;
        }
      }
    }
  } finally {
    await store.close();
  }
  return totals;
}
