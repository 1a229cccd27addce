import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { inProcessRankBody, loadBenchCatalog, loadInProcessCatalog, realisticRankBody } from "./rank-requests.js";
import { mainThreadTimes } from "./thread-cpu.js";

/**
 * The rank use-case of this tree against another checkout's, in one process, in alternating blocks: on a
 * loaded shared machine two runs back to back see different loads, blocks interleaved see the same. Each
 * tree gets its own engine (own data dir on disk, own log writer thread), the same requests as
 * `npm run bench -- rank` (100 request candidates with 2 features over a 1,000-item catalog with category
 * and price, 10 slots, fresh user and context) and 1 in 10 decisions rewarded between blocks (untimed).
 * Reports main-thread CPU µs per rank (schedstat: the log writer's thread excluded) per tree, the median
 * over blocks, and their ratio. --body=http: the HTTP bench's realistic requests instead (rank-requests.ts:
 * a 2,000-item catalog, request features {price, discount} overriding the catalog's price).
 *   node --import tsx bench/support/ab-rank.ts /tmp/base-tree [--blocks=20] [--per-block=250] [--body=http]
 */
interface RankEngine {
  parts: {
    metrics: {
      registry: { getSingleMetric(name: string): { get(): Promise<{ values: { value: number }[] }> } | undefined };
    };
  };
  rank(body: unknown): Promise<{ decisionId: string; ranking: { id: string }[] }>;
  reward(decisionId: string, body: unknown): Promise<unknown>;
  upsertItems(body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

async function openEngine(
  tree: string,
  clock: ManualClock,
  http: boolean,
): Promise<{ engine: RankEngine; dir: string }> {
  const mod = (await import(join(tree, "src/app/engine.ts"))) as {
    createEngine(o: unknown): Promise<RankEngine>;
  };
  const dir = mkdtempSync(join(tmpdir(), "loopwise-ab-rank-"));
  const engine = await mod.createEngine({ dataDir: dir, clock, logger: pino({ level: "silent" }) });
  if (http) {
    await loadBenchCatalog(engine);
    return { engine, dir };
  }
  const rng = new Xoshiro128(7);
  await loadInProcessCatalog(engine, rng);
  return { engine, dir };
}

/** CPU seconds of the engine's log writer thread so far (its metric; 0 when unreadable). */
async function writerCpu(engine: RankEngine): Promise<number> {
  const metric = engine.parts.metrics.registry.getSingleMetric("loopwise_log_writer_thread_cpu_seconds_total");
  return (await metric?.get())?.values[0]?.value ?? 0;
}

/** Main-thread CPU µs per rank, and the log writer thread's per rank (the block's rewards included). */
async function block(engine: RankEngine, clock: ManualClock, rng: Xoshiro128, from: number, n: number, http: boolean) {
  const bodies = Array.from({ length: n }, (_, k) =>
    http ? realisticRankBody(from + k, "ab") : inProcessRankBody(rng, from + k),
  );
  const w0 = await writerCpu(engine);
  const t0 = mainThreadTimes();
  const results = [];
  for (const body of bodies) {
    results.push(await engine.rank(body));
    clock.advance(20);
  }
  const t1 = mainThreadTimes();
  for (const r of results)
    if (rng.next() < 0.1) await engine.reward(r.decisionId, { value: 1, itemId: r.ranking[0]!.id });
  const writer = ((await writerCpu(engine)) - w0) * 1e6;
  return { main: t0 && t1 ? (t1.cpuNs - t0.cpuNs) / 1000 / n : Number.NaN, writer: writer / n };
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const other = process.argv[2];
  if (!other) throw new Error("usage: ab-rank.ts OTHER_TREE [--blocks=N] [--per-block=N]");
  const flag = (name: string, dflt: number) =>
    Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const blocks = flag("blocks", 20);
  const perBlock = flag("per-block", 250);
  const trees = [resolve(other), resolve(import.meta.dirname, "../..")];
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const opened = [];
  const http = process.argv.includes("--body=http");
  for (const tree of trees) opened.push(await openEngine(tree, clock, http));
  const rngs = trees.map(() => new Xoshiro128(11));
  const cpu: number[][] = trees.map(() => []);
  const writer: number[][] = trees.map(() => []);
  for (let b = -2; b < blocks; b++) {
    // Alternate which tree goes first, so neither always runs right after the other's garbage.
    const order = b % 2 === 0 ? [0, 1] : [1, 0];
    for (const t of order) {
      const us = await block(opened[t]!.engine, clock, rngs[t]!, (b + 2) * perBlock, perBlock, http);
      if (b >= 0) cpu[t]!.push(us.main);
      if (b >= 0) writer[t]!.push(us.writer);
    }
  }
  // Ref'd while closing: an older tree's store could let the process exit mid-close (wal-checkpointer.ts `stop`).
  const keepAlive = setInterval(() => {}, 60_000);
  for (const { engine, dir } of opened) {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  clearInterval(keepAlive);
  const [base, mine] = cpu.map(median) as [number, number];
  console.log(`main-thread CPU µs per rank, median of ${blocks} blocks of ${perBlock}:`);
  console.log(`  ${trees[0]}: ${base.toFixed(0)}  (blocks ${cpu[0]!.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`  ${trees[1]}: ${mine.toFixed(0)}  (blocks ${cpu[1]!.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`  ratio this/other: ${(mine / base).toFixed(3)}`);
  const [wBase, wMine] = writer.map(median) as [number, number];
  console.log(
    `log writer thread CPU µs per rank (rewards included), median: other ${wBase.toFixed(0)}, this ${wMine.toFixed(0)}, ratio ${(wMine / wBase).toFixed(3)}`,
  );
}

await main();
