import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BasePolicy, PolicySnapshot } from "../src/bandit/base-policy.js";
import { encodeF64, F64Field } from "../src/bandit/snapshot-codec.js";
import { SqliteStore } from "../src/storage/sqlite/database.js";
import { SqlitePolicyStore } from "../src/storage/sqlite/policy-store.js";
import { longestBlock, trainedDefaultPolicy } from "./support/longest-block.js";

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
