import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import type { PolicyFeedback, PolicySpec } from "../../src/bandit/policy.js";
import { ManualClock } from "../../src/core/clock.js";
import type { RankResponse } from "../../src/server/api-types.js";
import { loadBenchCatalog, realisticRankBody } from "./rank-requests.js";

/** One leg of the reward path: policy updates it caused, their cost, and the part spent inside policy.update. */
export interface RewardPathLeg {
  updates: number;
  /** Policy updates per second of wall time and of process CPU time (main thread + log writer). */
  perSecond: number;
  perCpuSecond: number;
  /** µs of process CPU per update, and of it µs inside policy.update. */
  cpuUsPerUpdate: number;
  policyUsPerUpdate: number;
}

export interface RewardPathResult {
  policy: string;
  /** `engine.reward` with an item id: one reward, one update (the earliest join learns at once). */
  reward: RewardPathLeg;
  /** The window close (`engine.tick` past the reward window): every slot without a reward learns the default. */
  close: RewardPathLeg;
}

const POLICIES: [string, PolicySpec | undefined][] = [
  ["default", undefined],
  ["thompson (disjoint, armDims 32)", { type: "thompson", params: { model: "disjoint", armDims: 32 } }],
];

/**
 * Updates/s through the engine's reward path, next to the policy's own (bench/bandit.bench.ts): rank N realistic
 * requests (bench/support/rank-requests.ts: 100 candidates, 10 slots, fresh users and contexts), then time
 * `engine.reward` for one shown item of each (in concurrent batches of 100, as HTTP traffic would call it), then
 * the window close that learns the default reward for the other 9 slots. The time inside `policy.update` is
 * measured around each call, so the path's own overhead (log write, join, rebuilding the input) is the rest.
 */
export async function measureRewardPath(decisions: number): Promise<RewardPathResult[]> {
  const out: RewardPathResult[] = [];
  for (const [name, spec] of POLICIES) out.push(await measureOne(name, spec, decisions));
  return out;
}

async function measureOne(name: string, spec: PolicySpec | undefined, decisions: number): Promise<RewardPathResult> {
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  try {
    await loadBenchCatalog(engine);
    const policyId = spec ? "bench-reward-path" : undefined;
    if (spec) await engine.parts.policies.register({ ...spec, id: "bench-reward-path" });
    const policy = engine.parts.policies.find(policyId ?? engine.parts.policies.defaultPolicyId ?? "default");
    if (!policy) throw new Error(`policy ${policyId ?? "default"} not found`);
    const inside = timeInside(policy);
    const ranked: RankResponse[] = [];
    for (let i = 0; i < decisions; i++) {
      const body = realisticRankBody(i, "reward-path");
      ranked.push(await engine.rank(policyId ? { ...body, policyId } : body));
    }
    const reward = await leg(policy, inside, async () => {
      for (let b = 0; b < ranked.length; b += 100) {
        const batch = ranked.slice(b, b + 100);
        await Promise.all(
          batch.map((r, k) => engine.reward(r.decisionId, { value: 1, itemId: r.ranking[k % r.ranking.length]!.id })),
        );
      }
    });
    clock.advance(engine.config.rewards.window + 1);
    const close = await leg(policy, inside, () => engine.tick());
    return { policy: name, reward, close };
  } finally {
    await engine.close();
  }
}

/**
 * Wraps the policy's update to sum the process CPU time spent in it (µs); returns a reader of the running total.
 * CPU, not wall: on a loaded machine a wall clock around one call counts the time the thread was descheduled.
 * Includes the ~1 µs of the two getrusage calls; a log write running on its thread meanwhile is counted too.
 */
function timeInside(policy: { update(feedback: PolicyFeedback): void }): () => number {
  let us = 0;
  const update = policy.update.bind(policy);
  policy.update = (feedback) => {
    const cpu0 = process.cpuUsage();
    try {
      update(feedback);
    } finally {
      const cpu = process.cpuUsage(cpu0);
      us += cpu.user + cpu.system;
    }
  };
  return () => us;
}

async function leg(
  policy: { updates: number },
  inside: () => number,
  work: () => Promise<void>,
): Promise<RewardPathLeg> {
  const updates0 = policy.updates;
  const inside0 = inside();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  const updates = policy.updates - updates0;
  return {
    updates,
    perSecond: updates / wallS,
    perCpuSecond: updates / (cpuUs / 1e6),
    cpuUsPerUpdate: cpuUs / updates,
    policyUsPerUpdate: (inside() - inside0) / updates,
  };
}
