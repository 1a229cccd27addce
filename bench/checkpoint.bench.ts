import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BasePolicy, PolicySnapshot } from "../src/bandit/base-policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../src/bandit/policy-types.js";
import { encodeF64, F64Field } from "../src/bandit/snapshot-codec.js";
import { SqliteStore } from "../src/storage/sqlite/database.js";
import { SqlitePolicyStore } from "../src/storage/sqlite/policy-store.js";
import { mainThreadTimes } from "./support/thread-cpu.js";

/**
 * `npm run bench -- checkpoint [--arms=2000] [--rounds=3]`: the longest event-loop block while the default
 * policy (hybrid, armDims 64) with `arms` learned arms is checkpointed through the SQLite log writer, as the
 * registry does every `policies.snapshotEvery`. "sliced": the registry's save (`snapshotInSlices`, 32 arms copied
 * per turn). "at once": `snapshot()` copies the arrays and the store transfers
 * them to the writer's thread, which writes the JSON. "strings": the pre-F64Field path in the same run: every
 * array base64'd on the event loop, and the strings structured-cloned to the thread. A block is the longest
 * gap between two turns of a ticker that runs while the save is in flight.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const arms = flag("arms", 2000);
  const rounds = flag("rounds", 3);
  const dir = mkdtempSync(join(tmpdir(), "loopwise-checkpoint-"));
  const log = new SqliteStore(join(dir, "loopwise.db"));
  await log.ready();
  const store = new SqlitePolicyStore(log.db, log.writer);
  const policy = trainedDefaultPolicy(arms);
  const out: Record<string, { wallMs: number; cpuMs: number }[]> = { sliced: [], now: [], strings: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      out.sliced!.push(await longestBlock(() => slicedSave(policy, (s) => store.save(s, r, { handOver: true }))));
      out.now!.push(await longestBlock(() => store.save(policy.snapshot(), r, { handOver: true })));
      out.strings!.push(await longestBlock(() => store.save(asStrings(policy.snapshot()), r)));
    }
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (xs: { wallMs: number; cpuMs: number }[]) =>
    xs.map((x) => `${x.wallMs.toFixed(1)} (CPU ${x.cpuMs.toFixed(1)})`).join(", ");
  console.log(
    `checkpoint of the default policy with ${arms} arms: longest event-loop block, ms wall (its main-thread CPU, longest)`,
  );
  console.log(`  sliced (the registry's save: arms copied 32 a turn):   ${fmt(out.sliced!)}`);
  console.log(`  at once (snapshot(), arrays transferred, JSON on a thread): ${fmt(out.now!)}`);
  console.log(`  strings (base64 on the event loop, cloned):            ${fmt(out.strings!)}`);
  return { arms, longestBlockMs: out };
}

/** The default policy after one update on each of `arms` distinct items (an arm each, up to its maxArms). */
function trainedDefaultPolicy(arms: number) {
  const policy = createPolicy("checkpoint", DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) {
    const candidates = [{ id: `item-${i}`, features: { price: i % 50, discount: 0.1 } }];
    const input = { context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 }, candidates };
    policy.update({ input, index: 0, position: 0, reward: i % 3 === 0 ? 1 : 0, propensity: 0.5, placedBefore: [] });
  }
  return policy;
}

/** As PolicyRegistry saves: the snapshot copied 32 arms per event-loop turn, then handed to the store. */
async function slicedSave(policy: BasePolicy, save: (s: PolicySnapshot) => Promise<void>): Promise<void> {
  const copy = policy.snapshotInSlices();
  while (!copy.step(32)) await new Promise((resolve) => setImmediate(resolve));
  await save(copy.result());
}

/** The snapshot as `snapshot()` built it before F64Field: every array a base64 string. */
function asStrings(snapshot: PolicySnapshot): PolicySnapshot {
  const walk = (v: unknown): unknown => {
    if (v instanceof F64Field) return encodeF64(v.f64);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === "object" && v !== null && !ArrayBuffer.isView(v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(snapshot) as PolicySnapshot;
}

/**
 * Runs `work` (its synchronous part included) while a ticker measures the longest gap between event-loop
 * turns in wall time, and the most main-thread CPU one gap took (thread-cpu.ts; the machine is shared, so a wall
 * gap includes waiting for a core).
 */
async function longestBlock(work: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  let longest = { wallMs: 0, cpuMs: 0 };
  let last = performance.now();
  let lastCpu = mainThreadTimes()?.cpuNs ?? 0;
  let running = true;
  const turn = () => {
    const now = performance.now();
    const cpu = mainThreadTimes()?.cpuNs ?? 0;
    longest = { wallMs: Math.max(longest.wallMs, now - last), cpuMs: Math.max(longest.cpuMs, (cpu - lastCpu) / 1e6) };
    last = now;
    lastCpu = cpu;
  };
  const tick = () => {
    turn();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((resolve) => setTimeout(resolve, 5)); // the ticker is turning
  longest = { wallMs: 0, cpuMs: 0 };
  last = performance.now();
  lastCpu = mainThreadTimes()?.cpuNs ?? 0;
  await work();
  running = false;
  turn();
  return longest;
}
