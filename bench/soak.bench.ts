import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load, startBenchServer } from "./support/autocannon-run.js";
import { realisticRankBody } from "./support/rank-requests.js";

/**
 * `npm run bench -- soak [--duration=360] [--connections=16]`: rank at saturation with a fresh user and context
 * per request (100 candidates × 2 features, 10 slots) for 6 minutes, sampling the server process's RSS every
 * 5 s, and every 30 s what holds it (the server's /metrics: main heap reserved, in use and live after the last full
 * GC, the log writer thread's heap, the learning loop's and feature store's estimates). Issue 12's bar: RSS under 1.5 GiB and flat (< +30% over the
 * last 4 minutes), max latency ≤ 250 ms.
 * The learning loop's open reward windows fill during the first 10 minutes of a window, so a bounded pending
 * state is what keeps the curve flat. Run it alone: it saturates the machine.
 * Diagnosing stalls: `LOOPWISE_BENCH_STALLS=1` makes the server print every event-loop stall over 100 ms and every
 * GC pause over 20 ms on stderr (bench/support/stall-trace.ts); add `--node-flag=--cpu-prof
 * --node-flag=--cpu-prof-dir=DIR` and `bench/support/profile-window.ts` shows what ran inside each stall.
 * Slow requests with no event-loop stall are usually the log writer's: `LOOPWISE_WRITER_TRACE=DIR` records its long
 * holds (writer-trace.ts), and `bench/support/thread-sampler.ts` (sample the server's pid, then `holds`) says what
 * each thread waited on in the kernel during them (how stop 27 found the WAL's truncation TRIMmed inside commits).
 * `LOOPWISE_MEMORY_BUDGET` sets the server's memory budget, `LOOPWISE_BENCH_NO_HEAP_BUDGET=1` turns it off (A/B).
 * GC pauses by kind (count, p99, max) and event-loop stalls are measured inside the server by a preload
 * (bench/support/gc-pauses.ts): the primary figures on a loaded machine, where the wall max is mostly the load.
 * `--server=/other/checkout/bench/support/server-child.ts` runs another tree's server under the same measurement
 * (A/B against a base checkout; run base and this tree alternately).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const duration = flag("duration", 360);
  // `--node-flag=--max-old-space-size=768` (repeatable): V8 flags for the server process, to compare settings.
  const nodeFlags = args.filter((a) => a.startsWith("--node-flag=")).map((a) => a.slice("--node-flag=".length));
  const script = args.find((a) => a.startsWith("--server="))?.slice("--server=".length);
  const preload = ["--import", "tsx", "--import", fileURLToPath(new URL("./support/gc-pauses.ts", import.meta.url))];
  const server = await startBenchServer("loopwise", script, [...preload, ...nodeFlags]);
  const pid = server.child.pid;
  if (pid === undefined) throw new Error("the bench server has no pid");
  let gcStats: unknown;
  let pending = "";
  server.child.stdout?.on("data", (d: Buffer) => {
    const lines = (pending + d.toString()).split("\n");
    pending = lines.pop() ?? ""; // a line the pipe split: completed by the next chunk
    const line = lines.findLast((l) => l.startsWith("GCSTATS "));
    if (line) gcStats = JSON.parse(line.slice("GCSTATS ".length));
  });
  const samples: { s: number; rssMiB: number }[] = [];
  const breakdown: MemoryBreakdown[] = [];
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  const sample = () => {
    const s = seconds();
    samples.push({ s, rssMiB: rssMiB(pid) });
    if (s % 30 < 5) scrapeMemory(server.url, server.apiKey, s).then((b) => b && breakdown.push(b));
  };
  sample();
  const timer = setInterval(sample, 5000);
  const slowest = new SlowestRequests(10);
  try {
    const figures = await load(server.url, "/v1/rank", (i) => realisticRankBody(i, "soak"), {
      duration,
      connections: flag("connections", 16),
      apiKey: server.apiKey,
      onResponse: (ms) => slowest.add((Date.now() - started) / 1000 - ms / 1000, ms),
    });
    sample();
    const cpuMsPerRequest = (cpuSeconds(pid) * 1000) / Math.max(1, figures.requestsPerSec * duration);
    const lastWindowStart = duration - Math.min(240, duration * (2 / 3));
    const atWindowStart = samples.find((x) => x.s >= lastWindowStart) ?? samples[0]!;
    const end = samples.at(-1)!;
    const growth = (end.rssMiB - atWindowStart.rssMiB) / atWindowStart.rssMiB;
    const peak = Math.max(...samples.map((x) => x.rssMiB));
    console.log(
      `soak ${duration} s: ${figures.requestsPerSec.toFixed(0)} req/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, max ${figures.maxMs} ms, errors ${figures.errors}, non2xx ${figures.non2xx}; server CPU ${cpuMsPerRequest.toFixed(2)} ms/request (all its threads, startup included)`,
    );
    console.log(
      `RSS: start ${samples[0]!.rssMiB} MiB, at ${atWindowStart.s} s ${atWindowStart.rssMiB} MiB, end ${end.rssMiB} MiB (${(growth * 100).toFixed(1)}% over the last ${duration - atWindowStart.s} s), peak ${peak} MiB`,
    );
    console.log(
      `RSS curve (MiB per 30 s): ${samples
        .filter((x) => x.s % 30 < 5)
        .map((x) => x.rssMiB)
        .join(" ")}`,
    );
    console.log(`GC pauses and event-loop stalls (server, whole run): ${JSON.stringify(gcStats)}`);
    console.log(
      `slowest requests (s since start when sent: ms): ${slowest.list.map((r) => `${r.s.toFixed(1)}: ${r.ms.toFixed(0)}`).join(", ")}; max in the first ${WARMUP_S} s: ${slowest.maxBefore(WARMUP_S).toFixed(0)} ms, after: ${slowest.maxAfter(WARMUP_S).toFixed(0)} ms`,
    );
    const last = await scrapeMemory(server.url, server.apiKey, seconds());
    if (last) breakdown.push(last);
    console.log("where the memory is (MiB; from the server's /metrics):");
    for (const b of breakdown) console.log(`  ${JSON.stringify(b)}`);
    return {
      duration,
      figures,
      cpuMsPerRequest,
      gcStats,
      script: script ?? "this tree",
      slowest: slowest.list,
      maxAfterWarmupMs: slowest.maxAfter(WARMUP_S),
      maxInWarmupMs: slowest.maxBefore(WARMUP_S),
      rss: { peakMiB: peak, growthLastWindow: growth, samples },
      breakdown,
    };
  } finally {
    clearInterval(timer);
    server.child.kill();
  }
}

/** The soak's first seconds: cold code paths (JIT, first pools), reported apart from the steady state. */
const WARMUP_S = 10;

/**
 * The slowest requests with when they were sent (s since the soak's start): a wall max matched to the server's
 * STALL lines (LOOPWISE_BENCH_STALLS), and the max after the warm-up apart from the first requests'.
 */
class SlowestRequests {
  readonly list: { s: number; ms: number }[] = [];
  private readonly maxPerSecond = new Map<number, number>();

  constructor(private readonly keep: number) {}

  add(s: number, ms: number): void {
    const whole = Math.floor(s);
    if (ms > (this.maxPerSecond.get(whole) ?? 0)) this.maxPerSecond.set(whole, ms);
    if (this.list.length === this.keep && ms <= (this.list.at(-1)?.ms ?? 0)) return;
    this.list.push({ s, ms });
    this.list.sort((a, b) => b.ms - a.ms);
    if (this.list.length > this.keep) this.list.pop();
  }

  /** The slowest request sent before `s` seconds (the cold start: server/warm-up.ts). */
  maxBefore(s: number): number {
    let max = 0;
    for (const [second, ms] of this.maxPerSecond) if (second < s && ms > max) max = ms;
    return max;
  }

  /** The slowest request sent at or after `s` seconds. */
  maxAfter(s: number): number {
    let max = 0;
    for (const [second, ms] of this.maxPerSecond) if (second >= s && ms > max) max = ms;
    return max;
  }
}

/** One reading of what holds the server's memory (MiB), from its /metrics. */
interface MemoryBreakdown {
  s: number;
  rss: number;
  /** The main thread's V8 heap: used, and reserved (what RSS pays for). */
  heapUsed: number;
  heapTotal: number;
  /** The main heap in use right after the last full GC: what is live (heapUsed includes garbage not yet collected). */
  heapLive: number;
  external: number;
  /** The log writer thread's own heap (used + external). */
  writerThread: number;
  /** Estimates of the bounded holders: the learning loop's open windows, the memory feature store. */
  learningPending: number;
  learningWindows: number;
  features: number;
  /** Decisions the dashboard's per-minute fold tracks for attribution (a count; at most dashboard.maxTracked). */
  dashboardDecisions: number;
}

const BREAKDOWN_METRICS = {
  rss: "loopwise_process_resident_memory_bytes",
  heapUsed: "loopwise_nodejs_heap_size_used_bytes",
  heapTotal: "loopwise_nodejs_heap_size_total_bytes",
  heapLive: "loopwise_nodejs_heap_live_bytes",
  external: "loopwise_nodejs_external_memory_bytes",
  writerThread: "loopwise_log_writer_thread_heap_bytes",
  learningPending: "loopwise_learning_pending_bytes",
  learningWindows: "loopwise_learning_pending_windows",
  features: "loopwise_feature_bytes",
  dashboardDecisions: 'loopwise_dashboard_tracked{kind="decisions"}',
} as const;

/** Breakdown entries that are counts, not bytes. */
const COUNTS = new Set(["learningWindows", "dashboardDecisions"]);

async function scrapeMemory(url: string, apiKey: string, s: number): Promise<MemoryBreakdown | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } });
    const text = await res.text();
    const out: Record<string, number> = { s };
    for (const [key, name] of Object.entries(BREAKDOWN_METRICS)) {
      const line = text.split("\n").find((l) => l.startsWith(`${name} `));
      const value = Number(line?.slice(name.length + 1) ?? Number.NaN);
      out[key] = COUNTS.has(key) ? value : Math.round(value / 1048576);
    }
    return out as unknown as MemoryBreakdown;
  } catch {
    return undefined; // a scrape that failed under load: the RSS samples still stand
  }
}

/** CPU seconds a process used so far (user + system, all threads), from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // the command name may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
}

/** Resident set size of a process on Linux, from /proc (MiB). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
