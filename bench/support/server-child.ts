/**
 * A server for HTTP benchmarks, in its own process so the load generator does not share its event
 * loop: `bare` is a plain fastify route (the ceiling on this machine), `loopwise` the real engine on a
 * fresh data dir, `features` the real engine with a clock fixed at the end of the generated feature stream
 * (`featureBenchStream`), whose events it ingests through the engine before it is ready. Prints
 * `READY <port> <admin key>` on stdout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { pino } from "pino";
import { loadConfig } from "../../src/app/config.js";
import { createEngine, type Engine } from "../../src/app/engine.js";
import { startHeapBudget } from "../../src/server/heap-budget.js";
import { disableMemoryReducer } from "../../src/server/memory-reducer.js";
import { buildServer } from "../../src/server/server.js";
import { warmUp } from "../../src/server/warm-up.js";
import { seedDecisionLog } from "./decision-log.js";
import { featureBenchStream } from "./feature-stream.js";
import { installLoopStats } from "./loop-stats.js";
import { loadBenchCatalog } from "./rank-requests.js";
import { traceStalls } from "./stall-trace.js";
import { addSyntheticRoute, type SyntheticWork } from "./synthetic-route.js";

const kind = process.argv[2] ?? "loopwise";
/** The data dirs this process made: removed when the bench stops it (a soak writes gigabytes). */
const made: string[] = [];
const tempDataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-bench-"));
  made.push(dir);
  return dir;
};
/** Closes the engine at SIGTERM when the writer's trace is on (LOOPWISE_WRITER_TRACE: its thread writes it at close). */
let closeForTrace: (() => Promise<void>) | undefined;
process.once("SIGTERM", async () => {
  await closeForTrace?.().catch(() => {});
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
let app: { listen: (o: { port: number; host: string }) => Promise<string> };
let apiKey = "";
if (kind === "bare") {
  const bare = Fastify({ logger: false });
  bare.post("/bare", async (req) => ({ ok: true, echo: (req.body as { userId?: string })?.userId }));
  bare.get("/bare/:id", async (req) => ({ ok: true, echo: (req.params as { id: string }).id }));
  // LOOPWISE_BENCH_SYNTHETIC={json}: also a route doing a chosen amount of a rank's kinds of work (tail-floor.ts).
  const synthetic = process.env.LOOPWISE_BENCH_SYNTHETIC;
  if (synthetic) addSyntheticRoute(bare, JSON.parse(synthetic) as SyntheticWork);
  app = bare;
} else if (kind === "features") {
  const { events, end } = featureBenchStream();
  const dataDir = tempDataDir();
  const engine = await createEngine({ dataDir, logger: pino({ level: "warn" }), clock: { now: () => end } });
  for (let i = 0; i < events.length; i += 1000) {
    await engine.ingestEvents({ events: events.slice(i, i + 1000) });
  }
  app = await buildServer(engine);
  apiKey = engine.adminKey;
} else if (kind === "evaluation" || kind === "evaluation-in-thread") {
  // A decision log to evaluate (bench/evaluation-isolation.bench.ts): on disk, so jobs run in a worker
  // thread, or ":memory:", where they run in the server's own thread (the pre-issue-14 behaviour).
  const dataDir = kind === "evaluation" ? tempDataDir() : ":memory:";
  const adminKey = process.env.LOOPWISE_BENCH_ADMIN_KEY;
  const engine = await createEngine({
    dataDir,
    logger: pino({ level: "warn" }),
    config: { ...(adminKey ? { adminKey } : {}), evaluations: { timeLimit: 120_000 } },
  });
  await seedDecisionLog(engine, Number(process.env.LOOPWISE_BENCH_DECISIONS ?? 20_000));
  app = await buildServer(engine);
  apiKey = engine.adminKey;
} else {
  const dataDir = tempDataDir();
  const logger = pino({ level: "warn" });
  // As the real server does (server/start.ts), unless LOOPWISE_BENCH_NO_HEAP_BUDGET (the soak's A/B).
  if (!process.env.LOOPWISE_BENCH_NO_HEAP_BUDGET)
    startHeapBudget(loadConfig({ env: process.env }).memory.budget, logger);
  // As the real server does, unless LOOPWISE_BENCH_MEMORY_REDUCER (its A/B).
  if (!process.env.LOOPWISE_BENCH_MEMORY_REDUCER) disableMemoryReducer();
  // `LOOPWISE_BENCH_CONFIG={json}`: config for the engine (the soak's diagnosis: e.g. a small
  // rewards.maxPendingBytes so the learning windows close early, and the policy learns, within a short run).
  const benchConfig = process.env.LOOPWISE_BENCH_CONFIG;
  const engine = await createEngine({ dataDir, logger, ...(benchConfig ? { config: JSON.parse(benchConfig) } : {}) });
  if (process.env.LOOPWISE_WRITER_TRACE) closeForTrace = () => engine.close();
  engine.metrics.withProcessMetrics(); // as the real server does (server/start.ts): memory on /metrics
  engine.start();
  await loadBenchCatalog(engine); // what the realistic rank requests draw from
  // The uniform policy (LOOPWISE_BENCH_UNIFORM=1): rank requests naming it give the floor of the path without
  // the bandit. Only when asked: a second registered policy is state the other cases and an A/B's other tree
  // do not have.
  if (process.env.LOOPWISE_BENCH_UNIFORM)
    await engine.parts.policies.register({ id: "bench-uniform", type: "uniform" });
  if (process.env.LOOPWISE_BENCH_LOOPSTATS) installLoopStats(engine);
  app = await buildServer(engine);
  apiKey = engine.adminKey;
  // As the real server does (server/start.ts): its code compiled on throwaway state before it listens.
  const warm = await warmUp(engine.config, engine.config.warmUpRanks);
  process.stderr.write(`warm-up: ${JSON.stringify(warm)}\n`);
  if (process.env.LOOPWISE_BENCH_MEMLOG) logMemory(engine, Number(process.env.LOOPWISE_BENCH_MEMLOG));
  // LOOPWISE_BENCH_STALLS=1 traces blocks over 100 ms; a larger number is the threshold in ms.
  const stalls = Number(process.env.LOOPWISE_BENCH_STALLS);
  if (process.env.LOOPWISE_BENCH_STALLS) traceStalls(stalls > 1 ? stalls : 100);
}
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`READY ${new URL(address).port} ${apiKey}\n`);

/**
 * `LOOPWISE_BENCH_MEMLOG=S`: every S seconds, one JSON line on stderr with where the memory is (the soak's
 * diagnosis): RSS, the main heap, external/array buffers, the log writer thread's heap, and the engine's
 * bounded holders.
 */
function logMemory(engine: Engine, seconds: number): void {
  const started = Date.now();
  const MiB = (n: number) => Math.round(n / 1048576);
  const gauge = async (name: string) => {
    const metric = engine.metrics.registry.getSingleMetric(name);
    return metric ? ((await metric.get()).values[0]?.value ?? 0) : 0;
  };
  setInterval(async () => {
    const m = process.memoryUsage();
    const writerHeap = await gauge("loopwise_log_writer_thread_heap_bytes");
    const writerQueued = await gauge("loopwise_log_writer_queued_writes");
    process.stderr.write(
      `MEM ${JSON.stringify({
        s: Math.round((Date.now() - started) / 1000),
        rss: MiB(m.rss),
        heapUsed: MiB(m.heapUsed),
        heapTotal: MiB(m.heapTotal),
        external: MiB(m.external),
        arrayBuffers: MiB(m.arrayBuffers),
        writerHeap: MiB(writerHeap),
        writerQueued,
        learning: { windows: engine.parts.learning.size, MiB: MiB(engine.parts.learning.bytes) },
      })}\n`,
    );
  }, seconds * 1000).unref();
}
