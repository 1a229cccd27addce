import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Xoshiro128 } from "../../src/core/rng.js";
import { inProcessRankBody } from "./rank-requests.js";
import { mainThreadTimes } from "./thread-cpu.js";

/**
 * The event-loop blocks of one periodic policy save (PolicyRegistry `persist`: the snapshot copied in slices, then
 * posted to the encoder's thread, its parts written by the log writer), for the default policy after `--updates`
 * updates on realistic inputs (`bench rank`'s requests: fresh contexts, 100 candidates with 2 features, so the
 * shared model's hashed slots fill as in serving) spread over `--arms` items. Every tree given (this one first)
 * is imported into this one process and saves its own copy of the same learned state in turn, `--rounds` times
 * (lockstep A/B): per tree the longest turns' main-thread CPU (ms) and their wall.
 *   node --import tsx bench/support/save-blocks.ts [/tmp/base-tree] [--arms=2000] [--updates=20000] [--rounds=5]
 */
interface TreeModules {
  name: string;
  registry: {
    PolicyRegistry: { open(o: unknown): Promise<{ persist(): Promise<number>; close(): Promise<void> }> };
  };
  policyTypes: { createPolicy(id: string, spec: unknown): Learner; DEFAULT_POLICY_SPEC: unknown };
  database: {
    SqliteStore: new (path: string) => { ready(): Promise<void>; db: unknown; writer: unknown; close(): Promise<void> };
  };
  store: { SqlitePolicyStore: new (db: unknown, writer: unknown) => unknown };
}
interface Learner {
  id: string;
  update(f: unknown): void;
}

const flag = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);

async function load(tree: string): Promise<TreeModules> {
  const at = (p: string) => import(join(tree, p));
  return {
    name: tree,
    registry: await at("src/bandit/policy-registry.ts"),
    policyTypes: await at("src/bandit/policy-types.ts"),
    database: await at("src/storage/sqlite/database.ts"),
    store: await at("src/storage/sqlite/policy-store.ts"),
  };
}

/** The same learning on every tree's policy: `updates` slot rewards, items over `arms` distinct ids. */
function learn(policy: Learner, arms: number, updates: number): void {
  // An arm per item first (as longest-block.ts trainedDefaultPolicy), then the realistic updates.
  for (let i = 0; i < arms && updates > 1; i++) {
    const candidates = [{ id: `item-${i}`, features: { price: i % 50, discount: 0.1 } }];
    const input = { context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 }, candidates };
    policy.update({ input, index: 0, position: 0, reward: i % 3 === 0 ? 1 : 0, propensity: 0.5, placedBefore: [] });
  }
  const rng = new Xoshiro128(11);
  for (let u = 0; u < updates; u++) {
    const body = inProcessRankBody(rng, u) as { context: unknown; candidates: { id: string; features: unknown }[] };
    const candidates = body.candidates.slice(0, 10).map((c, k) => ({ ...c, id: `item-${(u * 10 + k) % arms}` }));
    policy.update({
      input: { context: body.context, candidates },
      index: u % 10,
      position: u % 10,
      reward: rng.next() < 0.1 ? 1 : 0,
      propensity: 0.5,
      placedBefore: [],
    });
  }
}

/** Every event-loop turn's wall and main-thread CPU while `work` runs (a setImmediate ticker). */
async function turns(work: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }[]> {
  const out: { wallMs: number; cpuMs: number }[] = [];
  let last = performance.now();
  let lastCpu = mainThreadTimes()?.cpuNs ?? 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    const cpu = mainThreadTimes()?.cpuNs ?? 0;
    out.push({ wallMs: now - last, cpuMs: (cpu - lastCpu) / 1e6 });
    last = now;
    lastCpu = cpu;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  return out;
}

async function main(): Promise<void> {
  const here = resolve(import.meta.dirname, "../..");
  const trees = [here, ...process.argv.slice(2).filter((a) => !a.startsWith("--"))];
  const arms = flag("arms", 2000);
  const updates = flag("updates", 20_000);
  const rounds = flag("rounds", 5);
  const setups = [];
  for (const tree of trees) {
    const m = await load(tree);
    const dir = mkdtempSync(join(tmpdir(), "loopwise-save-blocks-"));
    const log = new m.database.SqliteStore(join(dir, "loopwise.db"));
    await log.ready();
    const store = new m.store.SqlitePolicyStore(log.db, log.writer);
    const policy = m.policyTypes.createPolicy("default", m.policyTypes.DEFAULT_POLICY_SPEC);
    const t0 = performance.now();
    learn(policy, arms, updates);
    console.log(`${tree}: learned ${updates} updates in ${(performance.now() - t0).toFixed(0)} ms`);
    const registry = await m.registry.PolicyRegistry.open({ store, clock: { now: () => Date.now() } });
    (registry as unknown as { serve(p: Learner): void }).serve(policy);
    setups.push({ m, dir, log, policy, registry });
  }
  const results = new Map<string, { cpu: number[]; wall: number[] }[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of setups) {
      // One more update so the registry sees a change to save (it saves only what learned since).
      learn(s.policy, arms, 1);
      (s.registry as unknown as { saved: Map<string, number> }).saved.delete(s.policy.id);
      const list = await turns(() => s.registry.persist());
      const byCpu = [...list].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, 3);
      const row = { cpu: byCpu.map((t) => round(t.cpuMs)), wall: byCpu.map((t) => round(t.wallMs)) };
      results.set(s.m.name, [...(results.get(s.m.name) ?? []), row]);
      console.log(
        `round ${r + 1} ${s.m.name}: ${list.length} turns; longest by CPU ms ${row.cpu.join(", ")} (wall ${row.wall.join(", ")})`,
      );
    }
  }
  for (const s of setups) {
    await s.log.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
  for (const [name, rows] of results) {
    const firsts = rows.map((x) => x.cpu[0] as number).sort((a, b) => a - b);
    console.log(
      `${name}: longest turn CPU per round ${firsts.join(", ")} ms (median ${firsts[Math.floor(firsts.length / 2)]})`,
    );
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

await main();
