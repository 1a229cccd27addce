import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { createEngine } from "../src/app/engine.js";
import { DEFAULT_MEMORY_BUDGET } from "../src/app/memory-config.js";
import { growingPercentFor, HEAP_SHARE } from "../src/server/heap-budget.js";
import { loadBenchCatalog, realisticRankBody } from "./support/rank-requests.js";
import { mainThreadTimes, perOpSince } from "./support/thread-cpu.js";

/**
 * `npm run bench -- heap-budget [--live=20] [--at=215] [--block=3000] [--rounds=2]`: what the memory budget
 * (server/heap-budget.ts) costs rank. The budget's only effect is a smaller heap growing factor, so more full
 * GCs per promoted byte: a full GC's work grows with the live heap and their frequency falls with
 * (factor − 1) × live, so the cost per rank depends on the factor, not on the heap's size. This runs the
 * factor the default budget sets at `--at` MiB live (the lead's quiet soak ended at ~215) over a small ballast
 * (`--live` MiB of small objects standing for the holders), so that full GCs happen within a block. Blocks of
 * realistic rank requests (log on disk, writer thread) alternate between V8's own factor and the budget's, each
 * starting from a forced full GC (the limit is computed with the block's factor), so both see the same machine
 * load. Per block: CPU per rank (process, all threads: GC helpers included), main-thread CPU, wall p99/max,
 * full GCs and their pause total, and the heap V8 reserved at the block's end.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const liveMiB = flag("live", 20);
  const atMiB = flag("at", 215);
  const block = flag("block", 3000);
  const rounds = flag("rounds", 2);
  const budgetPercent = growingPercentFor(atMiB * 1048576, DEFAULT_MEMORY_BUDGET * HEAP_SHARE);
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const ballast = makeBallast(liveMiB);
  const dataDir = mkdtempSync(join(tmpdir(), "loopwise-bench-heap-budget-"));
  const engine = await createEngine({ dataDir, logger: pino({ level: "silent" }) });
  await loadBenchCatalog(engine);
  let majors = 0;
  let majorMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) {
        majors += kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 1 : 0;
        majorMs += e.duration;
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  let i = 0;
  for (let w = 0; w < 300; w++) await engine.rank(realisticRankBody(i++, "heap-budget")); // warm up
  const results: Record<string, unknown>[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of ["v8", "budget"] as const) {
        const percent = mode === "v8" ? 0 : budgetPercent;
        setFlagsFromString(`--heap-growing-percent=${percent}`);
        gc(); // the next limit is computed with this block's factor
        await new Promise((resolve) => setImmediate(resolve));
        majors = 0;
        majorMs = 0;
        const cpu0 = process.cpuUsage();
        const thread0 = mainThreadTimes();
        const times = new Float64Array(block);
        for (let k = 0; k < block; k++) {
          const t0 = performance.now();
          await engine.rank(realisticRankBody(i++, "heap-budget"));
          times[k] = performance.now() - t0;
        }
        const cpu = process.cpuUsage(cpu0);
        const thread = perOpSince(thread0, block);
        times.sort();
        const row = {
          round: r + 1,
          mode,
          percent,
          cpuUsPerRank: Math.round((cpu.user + cpu.system) / block),
          mainThreadUsPerRank: thread && Math.round(thread.cpuUs),
          p99Ms: Number(times[Math.floor(0.99 * block)]!.toFixed(2)),
          maxMs: Number(times[block - 1]!.toFixed(1)),
          fullGcs: majors,
          gcPauseMs: Math.round(majorMs),
          heapTotalMiB: Math.round(getHeapStatistics().total_heap_size / 1048576),
        };
        results.push(row);
        console.log(`  ${JSON.stringify(row)}`);
      }
    }
  } finally {
    setFlagsFromString("--heap-growing-percent=0");
    observer.disconnect();
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const mean = (mode: string, key: string) => {
    const rows = results.filter((x) => x.mode === mode);
    return rows.reduce((a, x) => a + (x[key] as number), 0) / rows.length;
  };
  const ratio = mean("budget", "cpuUsPerRank") / mean("v8", "cpuUsPerRank");
  console.log(
    `factor of the default budget at ${atMiB} MiB live (${budgetPercent}%), ${liveMiB} MiB ballast: CPU per rank budget/V8 ${ratio.toFixed(3)}; heap reserved ${mean("v8", "heapTotalMiB").toFixed(0)} vs ${mean("budget", "heapTotalMiB").toFixed(0)} MiB (V8's own vs budget, mean of block ends)`,
  );
  if (ballast.length === 0) throw new Error("unreachable: keeps the ballast alive");
  return { liveMiB, atMiB, budgetPercent, block, rounds, cpuRatio: ratio, results };
}

/** ~`mib` MiB of live small objects, about the holders' shape (an object, a short array, a string each). */
function makeBallast(mib: number): { id: string; values: number[]; at: number }[] {
  const perObject = 24 + 8 * 3 + 48 + 8 * 6 + 32; // object, array of 6 small ints, a short string
  return Array.from({ length: Math.round((mib * 1048576) / perObject) }, (_, k) => ({
    id: `decision-${k}`,
    values: [k & 7, 1, 2, 3, 4, 5],
    at: k,
  }));
}
