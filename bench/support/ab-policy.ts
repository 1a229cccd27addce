import { join, resolve } from "node:path";
import { pino } from "pino";
import type { BasePolicy } from "../../src/bandit/base-policy.js";
import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput, type SlotChoice } from "../../src/bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../../src/bandit/policy-types.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { inProcessRankBody, loadInProcessCatalog } from "./rank-requests.js";

/**
 * The default policy's own rank, this tree against another checkout's, in lockstep: both rank the same
 * engine-built inputs (as bench/support/policy-alone.ts captures them) call by call, the order alternating per
 * call, with the same RNG seed per call and the same rewards, so on a loaded shared machine both see the same
 * load. Reports per tree wall and CPU percentiles by class (an epoch's first 3 calls, calls that gave items their
 * epoch's noise, the others), the ratios, and how many calls differ in a choice, a propensity or any slot's
 * distribution (0 when a change keeps every number).
 *
 * Each tree gets its own copy of every input, built alike: the layered-features hint is keyed by each tree's own
 * FEATURE_LAYERS symbol (a symbol per module instance), so a tree handed the other's inputs would silently take
 * the slower unlayered path (a harness of stop 24 did: its base ran ~1.25x slower than the same code here).
 *   node --import tsx bench/support/ab-policy.ts /tmp/base-tree [--rounds=3000] [--warm=2000]
 */
interface TreeModule {
  createPolicy(id: string, spec: unknown): unknown;
  DEFAULT_POLICY_SPEC: unknown;
  FEATURE_LAYERS: symbol;
}

/** The counters the classes read (ThompsonInternals, read loosely: any checkout). */
interface Counters {
  epoch?: number;
  noise?: { rowsDrawn: number };
}

interface Side {
  name: string;
  policy: BasePolicy & Counters;
  inputs: PolicyInput[];
  wall: Float64Array;
  cpu: Float64Array;
  rows: Int32Array;
}

async function loadTree(tree: string): Promise<TreeModule> {
  const types = (await import(join(tree, "src/bandit/policy-types.ts"))) as TreeModule;
  const port = (await import(join(tree, "src/bandit/policy.ts"))) as { FEATURE_LAYERS: symbol };
  return { ...types, FEATURE_LAYERS: port.FEATURE_LAYERS };
}

/** The inputs the engine's serving policy receives for `count` in-process rank requests (rank.bench's). */
async function captureInputs(count: number): Promise<PolicyInput[]> {
  const { createEngine } = await import("../../src/app/engine.js");
  const rng = new Xoshiro128(7);
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  await loadInProcessCatalog(engine, rng);
  const served = engine.parts.policies.get(engine.parts.policies.defaultPolicyId ?? "default") as BasePolicy;
  const captured: PolicyInput[] = [];
  const rank = served.rank.bind(served);
  served.rank = (input, slots, r) => {
    captured.push(input);
    return rank(input, slots, r);
  };
  for (let i = 0; i < count; i++) await engine.rank(inProcessRankBody(rng, i));
  await engine.close();
  return captured;
}

/** A copy of the input whose candidates carry the layers hint under `symbol` (each side's copies built alike). */
function copyFor(input: PolicyInput, symbol: symbol): PolicyInput {
  const candidates = input.candidates.map((c) => {
    const copy: PolicyCandidate = { id: c.id };
    if (c.features !== undefined) copy.features = c.features;
    if (c.score !== undefined) copy.score = c.score;
    const layers = c[FEATURE_LAYERS];
    if (layers !== undefined) (copy as unknown as Record<symbol, unknown>)[symbol] = layers;
    return copy;
  });
  return input.profile === undefined
    ? { context: input.context, candidates }
    : { context: input.context, profile: input.profile, candidates };
}

function differ(a: SlotChoice[], b: SlotChoice[]): boolean {
  if (a.length !== b.length) return true;
  for (let s = 0; s < a.length; s++) {
    const x = a[s]!;
    const y = b[s]!;
    if (x.index !== y.index || x.propensity !== y.propensity) return true;
    for (let k = 0; k < x.probabilities.length; k++) if (x.probabilities[k] !== y.probabilities[k]) return true;
  }
  return false;
}

const at = (xs: ArrayLike<number>, q: number) => {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;

function report(side: Side, age: Int32Array): void {
  const { wall, cpu, rows } = side;
  console.log(
    `${side.name}: wall p50 ${at(wall, 0.5).toFixed(0)} p99 ${at(wall, 0.99).toFixed(0)} max ${at(wall, 1).toFixed(0)} µs; CPU mean ${mean(cpu).toFixed(0)} p50 ${at(cpu, 0.5).toFixed(0)} p99 ${at(cpu, 0.99).toFixed(0)} µs`,
  );
  const classes: [string, (i: number) => boolean][] = [
    ["epoch's first 3 calls", (i) => age[i]! < 3],
    ["noise rows drawn", (i) => rows[i]! > 0],
    ["none of these", (i) => age[i]! >= 3 && rows[i]! === 0],
  ];
  for (const [name, test] of classes) {
    const w = Array.from(wall).filter((_, i) => test(i));
    const c = Array.from(cpu).filter((_, i) => test(i));
    console.log(
      `  ${name}: ${w.length} calls, wall p50 ${at(w, 0.5).toFixed(0)} p99 ${at(w, 0.99).toFixed(0)}; CPU p50 ${at(c, 0.5).toFixed(0)} p99 ${at(c, 0.99).toFixed(0)} µs`,
    );
  }
}

async function main() {
  const other = process.argv[2];
  if (!other) throw new Error("usage: ab-policy.ts OTHER_TREE [--rounds=N] [--warm=N]");
  const flag = (name: string, dflt: number) =>
    Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const rounds = flag("rounds", 3000);
  const warm = flag("warm", 2000);
  const captured = await captureInputs(warm + rounds);
  const base = await loadTree(resolve(other));
  const sides: Side[] = [
    { name: `other (${resolve(other)})`, tree: base },
    { name: "this tree", tree: { createPolicy, DEFAULT_POLICY_SPEC, FEATURE_LAYERS } as TreeModule },
  ].map(({ name, tree }) => ({
    name,
    policy: tree.createPolicy("bench-default", tree.DEFAULT_POLICY_SPEC) as BasePolicy & Counters,
    inputs: captured.map((input) => copyFor(input, tree.FEATURE_LAYERS)),
    wall: new Float64Array(rounds),
    cpu: new Float64Array(rounds),
    rows: new Int32Array(rounds),
  }));
  const age = new Int32Array(rounds);
  const rewards = new Xoshiro128(11);
  let differing = 0;
  let lastEpoch = 0;
  let epochAge = 0;
  for (let i = -warm; i < rounds; i++) {
    const k = i + warm;
    const epoch = sides[1]!.policy.epoch ?? 0;
    epochAge = epoch === lastEpoch ? epochAge + 1 : 0;
    lastEpoch = epoch;
    const choices: SlotChoice[][] = [];
    for (const w of i & 1 ? [1, 0] : [0, 1]) {
      const side = sides[w]!;
      const rows0 = side.policy.noise?.rowsDrawn ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      choices[w] = side.policy.rank(side.inputs[k]!, 10, new Xoshiro128(k + 1_000_003));
      const t1 = performance.now();
      const cpu = process.cpuUsage(cpu0);
      if (i >= 0) {
        side.wall[i] = (t1 - t0) * 1000;
        side.cpu[i] = cpu.user + cpu.system;
        side.rows[i] = (side.policy.noise?.rowsDrawn ?? 0) - rows0;
      }
    }
    if (i >= 0) age[i] = epochAge;
    if (differ(choices[0]!, choices[1]!)) differing++;
    // Warm-up: a reward on a random candidate per call (arms for most items); then 1 in 10, on this tree's first slot.
    if (i < 0 || rewards.next() < 0.1) {
      const index = i < 0 ? Math.floor(rewards.next() * captured[k]!.candidates.length) : choices[1]![0]!.index;
      const reward = i < 0 ? (rewards.next() < 0.3 ? 1 : 0) : 1;
      for (const s of sides)
        s.policy.update({ input: s.inputs[k]!, index, position: 0, reward, propensity: 1, placedBefore: [] });
    }
  }
  for (const side of sides) report(side, age);
  const [a, b] = sides as [Side, Side];
  console.log(
    `ratio this/other: CPU mean ${(mean(b.cpu) / mean(a.cpu)).toFixed(3)}, CPU p50 ${(at(b.cpu, 0.5) / at(a.cpu, 0.5)).toFixed(3)}, CPU p99 ${(at(b.cpu, 0.99) / at(a.cpu, 0.99)).toFixed(3)}, wall p99 ${(at(b.wall, 0.99) / at(a.wall, 0.99)).toFixed(3)}; calls differing (a choice, propensity or distribution): ${differing} of ${warm + rounds}`,
  );
}

await main();
