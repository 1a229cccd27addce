import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { inProcessRankBody, loadInProcessCatalog } from "./rank-requests.js";

/**
 * Rank's tail with policy snapshots due often: `npm run bench -- rank`'s requests (100 candidates with 2
 * features, 10 slots, fresh user and context, 1 in 10 rewarded) on the engine of the checkout `tree` (this one
 * when omitted), its log on disk through the writer's thread, `policies.snapshotEvery` = --snapshot-every (ms,
 * real time; default 2,000) so a run holds several snapshot saves. Prints p50/p99/max wall µs of a rank, the
 * stored snapshot's bytes, and, when the tree has the writer trace (LOOPWISE_WRITER_TRACE, writer-trace.ts), the
 * distribution of the writer thread's holds per kind. Run trees alternately for an A/B (one process each):
 *   node --import tsx bench/support/writer-tail.ts [/tmp/base-tree] [--rounds=6000] [--snapshot-every=2000]
 */
interface RankEngine {
  rank(body: unknown): Promise<{ decisionId: string; ranking: { id: string }[] }>;
  reward(decisionId: string, body: unknown): Promise<unknown>;
  upsertItems(body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

const flag = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);

function quantiles(xs: number[]): string {
  const s = xs.slice().sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return `n ${s.length}, p50 ${q(0.5).toFixed(2)}, p99 ${q(0.99).toFixed(2)}, max ${(s[s.length - 1] ?? Number.NaN).toFixed(2)} ms`;
}

function printTrace(dir: string): void {
  for (const file of readdirSync(dir)) {
    const spans = JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, number[]>;
    for (const [kind, ms] of Object.entries(spans)) console.log(`  writer ${kind}: ${quantiles(ms)}`);
  }
}

async function main() {
  const tree = resolve(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? resolve(import.meta.dirname, "../.."));
  const rounds = flag("rounds", 6000);
  const snapshotEvery = flag("snapshot-every", 2000);
  const traceDir = mkdtempSync(join(tmpdir(), "loopwise-writer-trace-"));
  process.env.LOOPWISE_WRITER_TRACE = traceDir;
  const mod = (await import(join(tree, "src/app/engine.ts"))) as { createEngine(o: unknown): Promise<RankEngine> };
  const dir = mkdtempSync(join(tmpdir(), "loopwise-writer-tail-"));
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const engine = await mod.createEngine({
    dataDir: dir,
    clock,
    logger: pino({ level: "silent" }),
    config: { policies: { snapshotEvery } },
  });
  const rng = new Xoshiro128(7);
  await loadInProcessCatalog(engine, rng);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = -500; i < rounds; i++) {
    const t = performance.now();
    const res = await engine.rank(inProcessRankBody(rng, i + 500));
    if (i >= 0) times.push((performance.now() - t) * 1000);
    clock.advance(20);
    if (rng.next() < 0.1) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]!.id });
  }
  const seconds = (performance.now() - t0) / 1000;
  await engine.close();
  const db = new Database(join(dir, "loopwise.db"), { readonly: true });
  const hasParts = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'policy_snapshot_parts'").get();
  const rows = db.prepare("SELECT id, snapshot FROM policy_snapshots").all() as { id: string; snapshot: unknown }[];
  const bytes = rows.map(({ id, snapshot }) => {
    if (typeof snapshot === "string") return { id, form: "json", bytes: Buffer.byteLength(snapshot) };
    const b = snapshot as Buffer;
    if (b.length !== 16 || b.toString("latin1", 0, 3) !== "LWR") return { id, form: "binary", bytes: b.length };
    const save = b.readDoubleLE(8);
    const parts = db
      .prepare("SELECT count(*) AS n, sum(length(bytes)) AS bytes FROM policy_snapshot_parts WHERE id = ? AND save = ?")
      .get(id, save) as { n: number; bytes: number };
    return { id, form: `${parts.n} parts`, bytes: parts.bytes };
  });
  const leftover = hasParts ? db.prepare("SELECT count(DISTINCT save) FROM policy_snapshot_parts").pluck().get() : 0;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const s = times.sort((a, b) => a - b);
  const q = (p: number) => s[Math.floor(p * s.length)]!;
  console.log(
    `${tree}: ${rounds} ranks in ${seconds.toFixed(1)} s, snapshot every ${snapshotEvery} ms: p50 ${q(0.5).toFixed(0)} µs, p99 ${q(0.99).toFixed(0)} µs, max ${s[s.length - 1]!.toFixed(0)} µs`,
  );
  console.log(
    `  stored snapshots: ${JSON.stringify(bytes)}; saves holding parts (the current one included): ${leftover}`,
  );
  printTrace(traceDir);
  rmSync(traceDir, { recursive: true, force: true });
}

await main();
