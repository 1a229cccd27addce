import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createEngine, type Engine } from "../src/app/engine.js";
import { rankRequestSchema } from "../src/app/rank.js";
import { ManualClock } from "../src/core/clock.js";
import { compileSchema } from "../src/core/compiled-schema.js";
import { Xoshiro128 } from "../src/core/rng.js";
import { CAPTURE_BATCH, policyAlone } from "./support/policy-alone.js";
import { formatTail } from "./support/policy-tail.js";
import {
  IN_PROCESS_CANDIDATES,
  IN_PROCESS_CATALOG,
  IN_PROCESS_SLOTS,
  inProcessRankBody,
  loadInProcessCatalog,
} from "./support/rank-requests.js";
import { mainThreadTimes, perOpSince } from "./support/thread-cpu.js";

/**
 * `npm run bench -- rank`: the engine's rank use-case in process (validation, features, candidates,
 * policy, decision log, learning bookkeeping), as the HTTP route runs it minus fastify.
 * - validation: µs to validate one 100-candidate request with zod alone and with the compiled validator.
 * - rank: 100 request candidates (2 features each) over a 1,000-item catalog, 10 slots, a fresh user and
 *   a fresh context per request, the default policy; 1 in 10 decisions gets a click (untimed) so the
 *   policy learns and its serving epochs advance as in traffic. p50/p99/max wall µs and CPU µs per rank.
 *   The engine runs in its production configuration: a data dir on disk, so the decision log is written by
 *   the log writer's own thread (log-writer.ts), as `loopwise serve` does. `:memory:` instead commits on the
 *   event loop (InlineLogWriter, for tests) and measures a path no server takes (--memory selects it).
 *   CPU is the whole process's (the writer thread included); the log writer's own thread is also reported
 *   alone (`loopwise_log_writer_thread_cpu_seconds_total`), per rank (its share of the rewards included).
 * - policy alone: the default policy's own rank (support/policy-alone.ts) on the inputs the engine gives it for
 *   the same requests (captured from an in-memory engine's rank), warmed so arms exist for most catalog items,
 *   1 in 10 calls rewarded (untimed). p50/p99/max wall µs and CPU µs per call. Issue 12's "the default policy
 *   ranks 100x10 with fresh contexts at p99 <= 300 us" is this figure.
 * Flags: --quick (fewer requests), --rounds=N, --memory, --policy-only (the policy-alone section only),
 *   --capture-batch=N (policy alone: inputs captured per batch, default 1,000; support/policy-alone.ts says why),
 *   --rank-only (without the policy-alone section: for `--cpu-prof` of the engine's rank).
 */
const N_CAND = IN_PROCESS_CANDIDATES;
const SLOTS = IN_PROCESS_SLOTS;
const CATALOG = IN_PROCESS_CATALOG;

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function timeValidation(rounds: number): { zodUs: number; compiledUs: number } {
  const body = inProcessRankBody(new Xoshiro128(3), 1);
  const compiled = compileSchema(rankRequestSchema);
  const time = (f: () => unknown) => {
    for (let i = 0; i < 200; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) f();
    return ((performance.now() - t0) * 1000) / rounds;
  };
  const zodUs = time(() => rankRequestSchema.parse(body));
  const compiledUs = time(() => compiled.parse(body));
  return { zodUs, compiledUs };
}

/** CPU seconds of the log writer's thread so far, from the engine's metric; undefined without a writer thread. */
async function writerThreadCpu(engine: Engine): Promise<number | undefined> {
  const metric = engine.parts.metrics.registry.getSingleMetric("loopwise_log_writer_thread_cpu_seconds_total");
  const value = (await metric?.get())?.values[0]?.value;
  return value ? value : undefined;
}

async function withCatalog(dataDir: string, clock: ManualClock, rng: Xoshiro128): Promise<Engine> {
  const engine = await createEngine({ dataDir, clock, logger: pino({ level: "silent" }) });
  await loadInProcessCatalog(engine, rng);
  return engine;
}

async function runPolicyAlone(rounds: number, quick: boolean, captureBatch: number): Promise<Record<string, unknown>> {
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const rng = new Xoshiro128(7);
  const engine = await withCatalog(":memory:", clock, rng);
  const warm = quick ? 1000 : 2000;
  const result = await policyAlone(engine, (i) => inProcessRankBody(rng, i), {
    warm,
    rounds,
    slots: SLOTS,
    captureBatch,
  });
  await engine.close();
  console.log(
    `policy alone (default policy, ${SLOTS}/${N_CAND}, engine-built inputs captured ${captureBatch} at a time, fresh users and contexts, ${String(result.arms)} arms after ${warm} warm-up rewards, ${rounds} calls): p50 ${result.p50.toFixed(0)} µs, p99 ${result.p99.toFixed(0)} µs, max ${result.max.toFixed(0)} µs, mean ${result.mean.toFixed(0)} µs; CPU per call mean ${result.cpuMean.toFixed(0)} µs, p50 ${result.cpuP50.toFixed(0)} µs, p99 ${result.cpuP99.toFixed(0)} µs`,
  );
  console.log(`policy alone, the calls by class (what the slowest 1 % have in common):\n${formatTail(result.tail)}`);
  return { ...result, warm, captureBatch };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const quick = args.includes("--quick");
  const roundsArg = args.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Number(roundsArg.slice(9)) : quick ? 1000 : 5000;
  // --rank-only: skip the policy-alone section (a CPU profile of the main thread then holds only rank's calls).
  const batchArg = args.find((a) => a.startsWith("--capture-batch="));
  const captureBatch = batchArg ? Number(batchArg.slice(16)) : CAPTURE_BATCH;
  if (!Number.isInteger(captureBatch) || captureBatch < 1)
    throw new Error(`--capture-batch must be a whole number of inputs >= 1, got "${batchArg?.slice(16)}"`);
  const policy = args.includes("--rank-only") ? undefined : await runPolicyAlone(rounds, quick, captureBatch);
  if (args.includes("--policy-only"))
    return { setup: { candidates: N_CAND, slots: SLOTS, catalog: CATALOG, rounds }, policy };
  const validation = timeValidation(quick ? 500 : 2000);
  console.log(
    `validation of a ${N_CAND}-candidate rank request: zod ${validation.zodUs.toFixed(1)} µs, compiled ${validation.compiledUs.toFixed(1)} µs (${(validation.zodUs / validation.compiledUs).toFixed(1)}×)`,
  );

  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const dataDir = args.includes("--memory") ? ":memory:" : mkdtempSync(join(tmpdir(), "loopwise-bench-rank-"));
  const rng = new Xoshiro128(7);
  const engine = await withCatalog(dataDir, clock, rng);
  const warmup = Math.min(500, rounds);
  const times = new Float64Array(rounds);
  let cpu0 = process.cpuUsage();
  let thread0 = mainThreadTimes();
  let writer0 = await writerThreadCpu(engine);
  for (let i = -warmup; i < rounds; i++) {
    const body = inProcessRankBody(rng, i + warmup);
    if (i === 0) {
      cpu0 = process.cpuUsage();
      thread0 = mainThreadTimes();
      writer0 = await writerThreadCpu(engine);
    }
    const t0 = performance.now();
    const res = await engine.rank(body);
    if (i >= 0) times[i] = (performance.now() - t0) * 1000;
    clock.advance(20);
    if (rng.next() < 0.1) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]!.id });
  }
  const cpu = process.cpuUsage(cpu0);
  const mainThread = perOpSince(thread0, rounds);
  const writer1 = await writerThreadCpu(engine);
  const writerThreadCpuMean =
    writer0 === undefined || writer1 === undefined ? undefined : ((writer1 - writer0) * 1e6) / rounds;
  await engine.close();
  if (dataDir !== ":memory:") rmSync(dataDir, { recursive: true, force: true });
  const cpuMean = (cpu.user + cpu.system) / rounds;
  const sorted = times.slice().sort();
  const mean = times.reduce((a, b) => a + b, 0) / rounds;
  const result = {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean,
    cpuMeanIncludingRewards: cpuMean,
    mainThreadCpuMean: mainThread?.cpuUs,
    mainThreadWaitMean: mainThread?.waitUs,
    writerThreadCpuMean,
    perSecond: 1e6 / mean,
  };
  console.log(
    `rank ${SLOTS}/${N_CAND}, fresh users and contexts, default policy, ${dataDir === ":memory:" ? "in-memory log" : "log on disk"}, ${rounds} requests: p50 ${result.p50.toFixed(0)} µs, p99 ${result.p99.toFixed(0)} µs, max ${result.max.toFixed(0)} µs, mean ${mean.toFixed(0)} µs (${result.perSecond.toFixed(0)}/s); CPU ${cpuMean.toFixed(0)} µs per rank (rewards included)${mainThread ? `, of it main thread ${mainThread.cpuUs.toFixed(0)} µs; waited for a core ${mainThread.waitUs.toFixed(0)} µs per rank` : ""}${writerThreadCpuMean === undefined ? "" : `; log writer's thread ${writerThreadCpuMean.toFixed(0)} µs per rank`}`,
  );
  const log = dataDir === ":memory:" ? "memory" : "file";
  return {
    setup: { candidates: N_CAND, slots: SLOTS, catalog: CATALOG, rounds, log },
    validation,
    rank: result,
    policy,
  };
}
