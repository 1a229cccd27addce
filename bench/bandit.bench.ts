import { FeatureEncoder } from "../src/bandit/encoder.js";
import type { PolicyInput, PolicySpec } from "../src/bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, policyTypes } from "../src/bandit/policy-types.js";
import { rngFor, Xoshiro128 } from "../src/core/rng.js";
import type { FeatureMap } from "../src/core/types.js";
import { measureRewardPath } from "./support/reward-path.js";

/**
 * `npm run bench -- bandit`: in-process policy costs.
 * - rank: 100 candidates × 10 slots, each candidate with d = 32 features (24 numeric, 8 categorical),
 *   context of 8 user features; p50/p99 per policy, including sampling and propensities. Thompson
 *   policies are measured on a warm pool (a context seen before in this epoch: the pool is cached) and
 *   on a cold pool (a new context: the M posterior samples are drawn in the request). The issue's goal
 *   (p99 ≤ 100 µs "including sampling and propensities") is read on the cold path: in production every
 *   request has a somewhat new context, so the warm figure is the best case, not the typical one.
 * - updates/s per policy (feedback carrying the full 100-candidate input), by wall clock and by the
 *   process's CPU time (the machine is shared: CPU time leaves out the time the process was not running).
 * - the TS pool refresh cost vs M (pool size), shared and disjoint models.
 * - the update goal (issue 12: ≥ 100k updates/s for the disjoint model at d = 32, i.e. armDims 32): updates/s
 *   of that policy and the default one, each alternately several times (medians), and the same policies'
 *   updates/s through the engine's reward path (bench/support/reward-path.ts: engine.reward, then the window
 *   close), with the CPU per update spent inside policy.update.
 * Flags: --quick (fewer rounds).
 */
const N_CAND = 100;
const SLOTS = 10;
const D = 32;

function makeCatalog(rng: Xoshiro128, items: number): { id: string; features: FeatureMap; score: number }[] {
  return Array.from({ length: items }, (_, i) => {
    const features: FeatureMap = {};
    for (let f = 0; f < 24; f++) features[`f${f}`] = Math.round(rng.next() * 100) / 100;
    for (let f = 0; f < 8; f++) features[`c${f}`] = `v${Math.floor(rng.next() * 10)}`;
    return { id: `item${i}`, features, score: rng.next() };
  });
}

function makeContext(rng: Xoshiro128, u: number): FeatureMap {
  return {
    session_events: Math.floor(rng.next() * 20),
    session_clicks: Math.floor(rng.next() * 5),
    last_category: `cat${u % 12}`,
    device: u % 2 === 0 ? "mobile" : "desktop",
    hour: u % 24,
    price_mean: Math.round(rng.next() * 500) / 10,
    returning: u % 3 === 0,
    country: `c${u % 7}`,
  };
}

function makeRequests(count: number, seed: number): PolicyInput[] {
  const rng = new Xoshiro128(seed);
  const catalog = makeCatalog(rng, 1000);
  return Array.from({ length: count }, (_, u) => {
    const start = Math.floor(rng.next() * (catalog.length - N_CAND));
    return { context: makeContext(rng, u), candidates: catalog.slice(start, start + N_CAND) };
  });
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function timeRank(spec: PolicySpec, requests: PolicyInput[], rounds: number, miss: boolean) {
  const policy = createPolicy("bench", spec);
  // Warm-up and a little learning so models are not at their prior.
  for (let i = 0; i < 300; i++) {
    const input = requests[i % requests.length]!;
    const [s] = policy.rank(input, 1, rngFor("explore", `w${i}`));
    policy.update({
      input,
      index: s!.index,
      position: 0,
      reward: s!.index % 7 === 0 ? 1 : 0,
      propensity: s!.propensity,
      placedBefore: [],
    });
  }
  // On the hit path, every common context's pool exists before timing (as in steady traffic).
  if (!miss) for (const input of requests) policy.rank(input, SLOTS, rngFor("explore", "prewarm"));
  const times = new Float64Array(rounds);
  // Includes building each miss's input object; negligible next to a rank.
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    const base = requests[i % requests.length]!;
    // A miss: a context never seen (unique feature value), so a Thompson pool is drawn in the request.
    const input = miss ? { context: { ...base.context, nonce: i }, candidates: base.candidates } : base;
    const rng = rngFor("explore", `r${i}`);
    const t0 = performance.now();
    policy.rank(input, SLOTS, rng);
    times[i] = (performance.now() - t0) * 1000;
  }
  const cpu = cpuMicros(cpu0) / rounds;
  times.sort();
  const mean = times.reduce((a, b) => a + b, 0) / rounds;
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), mean, cpuMean: cpu };
}

/** CPU time (user + system, µs) used by this process since `from`. */
function cpuMicros(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

function timeUpdates(spec: PolicySpec, requests: PolicyInput[], count: number): { wall: number; cpu: number } {
  const policy = createPolicy("bench", spec);
  const rng = new Xoshiro128(5);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const input = requests[i % requests.length]!;
    const index = Math.floor(rng.next() * N_CAND);
    policy.update({
      input,
      index,
      position: i % SLOTS,
      reward: rng.next() < 0.1 ? 1 : 0,
      propensity: 0.1,
      placedBefore: [],
    });
  }
  const wall = count / ((performance.now() - t0) / 1000);
  return { wall, cpu: count / (cpuMicros(cpu0) / 1e6) };
}

function specsToMeasure(): [string, PolicySpec][] {
  const out: [string, PolicySpec][] = [["default", DEFAULT_POLICY_SPEC]];
  for (const type of Object.keys(policyTypes)) out.push([type, { type }]);
  out.push(["thompson (disjoint)", { type: "thompson", params: { model: "disjoint" } }]);
  out.push(["linucb (disjoint)", { type: "linucb", params: { model: "disjoint" } }]);
  out.push(["thompson (shared, no interactions)", { type: "thompson", features: { interactions: false } }]);
  out.push(["epsilon-greedy (no interactions)", { type: "epsilon-greedy", features: { interactions: false } }]);
  return out;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const quick = args.includes("--quick");
  const rounds = quick ? 500 : 2000;
  const common = makeRequests(50, 1);
  const encoder = new FeatureEncoder({ dims: 1 << 18, interactions: true });
  const encT0 = performance.now();
  for (let i = 0; i < 2000; i++) encoder.encode(common[i % common.length]!);
  const encodeUs = ((performance.now() - encT0) * 1000) / 2000;
  console.log(`encode 100 candidates × ${D} features + 8 context features, interactions on: ${encodeUs.toFixed(1)} µs`);

  const rank: Record<string, unknown> = {};
  const updates: Record<string, number> = {};
  const updatesCpu: Record<string, number> = {};
  console.log("rank: wall p50/p99 and CPU µs per rank (mean); Thompson: warm pool, then cold pool (new context)");
  for (const [name, spec] of specsToMeasure()) {
    const pooled = spec.type === "thompson" || spec.type === "thompson-logistic" || spec.type === "beta-bernoulli";
    const hit = timeRank(spec, common, rounds, false);
    const miss = pooled ? timeRank(spec, common, Math.floor(rounds / 2), true) : undefined;
    const ups = timeUpdates(spec, common, quick ? 5000 : 20000);
    rank[name] = miss ? { hit, miss } : hit;
    updates[name] = Math.round(ups.wall);
    updatesCpu[name] = Math.round(ups.cpu);
    const fmt = (t: { p50: number; p99: number; cpuMean: number }) =>
      `p50 ${t.p50.toFixed(1)} p99 ${t.p99.toFixed(1)} cpu ${t.cpuMean.toFixed(1)} µs`;
    const missText = miss ? `; cold ${fmt(miss)}` : "";
    console.log(
      `${name.padEnd(36)} rank ${SLOTS}/${N_CAND}: ${miss ? "warm " : ""}${fmt(hit)}${missText}; updates ${updates[name]}/s (cpu ${updatesCpu[name]}/s)`,
    );
  }
  const def = rank.default as { hit: { p99: number }; miss: { p99: number } };
  const goals = {
    rankP99Goal: 100,
    defaultWarmP99: def.hit.p99,
    defaultColdP99: def.miss.p99,
    coldMeetsGoal: def.miss.p99 <= 100,
    updatesGoal: 100_000,
    defaultUpdates: updates.default,
    defaultUpdatesCpu: updatesCpu.default,
  };
  console.log(
    `goals (default policy): rank p99 ≤ 100 µs on the cold path: ${def.miss.p99.toFixed(0)} µs (warm ${def.hit.p99.toFixed(0)} µs); updates ≥ 100000/s: ${updates.default}/s wall, ${updatesCpu.default}/s by CPU time`,
  );

  const pool: Record<string, unknown> = {};
  for (const model of ["shared", "disjoint"] as const) {
    for (const m of [16, 64, 256, 1024]) {
      const spec: PolicySpec = { type: "thompson", params: { model, poolSize: m } };
      const miss = timeRank(spec, common, quick ? 100 : 300, true);
      const hit = timeRank(spec, common, quick ? 200 : 600, false);
      pool[`${model}:M=${m}`] = { refreshP50: miss.p50 - hit.p50, missP50: miss.p50, hitP50: hit.p50, hitP99: hit.p99 };
      console.log(
        `TS pool ${model.padEnd(8)} M=${String(m).padEnd(5)} rank cold p50 ${miss.p50.toFixed(0)} µs (pool draw ≈ ${(miss.p50 - hit.p50).toFixed(0)} µs), warm p50 ${hit.p50.toFixed(1)} µs p99 ${hit.p99.toFixed(1)} µs`,
      );
    }
  }
  // The serving-copy refresh (epoch change) is paid in update(): updates/s against refreshEvery shows it.
  const refresh: Record<string, number> = {};
  for (const model of ["shared", "disjoint"] as const) {
    for (const every of [1, 10, 100]) {
      const spec: PolicySpec = { type: "thompson", params: { model, refreshEvery: every } };
      const ups = timeUpdates(spec, common, quick ? 5000 : 20000);
      refresh[`${model}:refreshEvery=${every}`] = Math.round(ups.wall);
      console.log(
        `TS ${model.padEnd(8)} refreshEvery=${String(every).padEnd(4)} updates ${Math.round(ups.wall)}/s (cpu ${Math.round(ups.cpu)}/s)`,
      );
    }
  }
  const updateGoal = await measureUpdateGoal(common, quick);
  return {
    updateGoal,
    refresh,
    setup: { candidates: N_CAND, slots: SLOTS, featuresPerCandidate: D, contextFeatures: 8 },
    encodeUs,
    goals,
    rank,
    updates,
    updatesCpu,
    pool,
  };
}

/** The update goal, the policy's own updates/s next to the engine reward path's (see the file comment). */
async function measureUpdateGoal(requests: PolicyInput[], quick: boolean): Promise<Record<string, unknown>> {
  const specs: [string, PolicySpec][] = [
    ["thompson (disjoint, armDims 32)", { type: "thompson", params: { model: "disjoint", armDims: 32 } }],
    ["default", DEFAULT_POLICY_SPEC],
  ];
  const own: Record<string, { wall: number; cpu: number }> = {};
  for (const [name, spec] of specs) {
    const runs = Array.from({ length: quick ? 3 : 5 }, () => timeUpdates(spec, requests, quick ? 10_000 : 30_000));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    own[name] = { wall: Math.round(median(runs.map((r) => r.wall))), cpu: Math.round(median(runs.map((r) => r.cpu))) };
    console.log(
      `updates ${name.padEnd(32)} policy.update: ${own[name].wall}/s wall, ${own[name].cpu}/s by CPU (median of ${runs.length}; goal for the disjoint model at d = 32: 100000/s)`,
    );
  }
  const path = await measureRewardPath(quick ? 1000 : 3000);
  for (const r of path) {
    for (const [leg, x] of [
      ["engine.reward", r.reward],
      ["window close", r.close],
    ] as const) {
      console.log(
        `updates ${r.policy.padEnd(32)} through ${leg.padEnd(13)}: ${Math.round(x.perSecond)}/s wall, ${Math.round(x.perCpuSecond)}/s by CPU (${x.cpuUsPerUpdate.toFixed(1)} µs CPU per update, ${x.policyUsPerUpdate.toFixed(1)} µs of it in policy.update; ${x.updates} updates)`,
      );
    }
  }
  return { own, rewardPath: path };
}
