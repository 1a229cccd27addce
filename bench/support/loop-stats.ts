import { createHistogram, monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";

/**
 * Where a request's latency goes inside the bench server (issue 12's "1,000 req/s at p99 <= 10 ms"), for
 * comparing with the client's latency in the same interval:
 * - `loopDelayMs`: how late a 1 ms timer fires (perf_hooks.monitorEventLoopDelay): how long work queued
 *   behind whatever held the main thread;
 * - `gc`: collections and their pauses on the main thread, by kind (PerformanceObserver "gc");
 * - `rankMs`: engine.rank from call to settle (wall), and `appendMs`, the decision log's append within it
 *   from call to settle: posting the record to the writer thread, its commit and its ack coming back (the
 *   request waits for it: acknowledged data survives kill -9); the rest of rankMs is the main thread's own
 *   work on the request and its waits for the event loop between steps;
 * - `utilization`: the event loop's busy share (performance.eventLoopUtilization).
 * The server child installs it (LOOPWISE_BENCH_LOOPSTATS=1) and prints `LOOPSTATS {json}` on SIGUSR2,
 * then starts a new interval.
 */
export function installLoopStats(engine: {
  rank(body: unknown): Promise<unknown>;
  parts: { decisions: { append(record: never): Promise<unknown> } };
}): void {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const rank = createHistogram();
  const append = createHistogram();
  const gc = new Map<string, { count: number; totalMs: number; maxMs: number }>();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = gcKind((entry as unknown as { detail?: { kind?: number } }).detail?.kind);
      const k = gc.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
      k.count++;
      k.totalMs += entry.duration;
      k.maxMs = Math.max(k.maxMs, entry.duration);
      gc.set(kind, k);
    }
  }).observe({ entryTypes: ["gc"] });
  engine.rank = timed(engine.rank.bind(engine), rank);
  const { decisions } = engine.parts;
  decisions.append = timed(decisions.append.bind(decisions), append);
  let elu = performance.eventLoopUtilization();
  process.on("SIGUSR2", () => {
    const usMs = (h: { percentile(p: number): number; max: number; count: number }) => ({
      count: h.count,
      p50: round(h.percentile(50) / 1000),
      p99: round(h.percentile(99) / 1000),
      max: round(h.max / 1000),
    });
    const nsMs = (h: { percentile(p: number): number; max: number }) => ({
      p50: round(h.percentile(50) / 1e6),
      p99: round(h.percentile(99) / 1e6),
      max: round(h.max / 1e6),
    });
    const stats = {
      loopDelayMs: nsMs(loop),
      gc: Object.fromEntries([...gc].map(([k, v]) => [k, { ...v, totalMs: round(v.totalMs), maxMs: round(v.maxMs) }])),
      rankMs: usMs(rank),
      appendMs: usMs(append),
      utilization: round(performance.eventLoopUtilization(elu).utilization),
    };
    process.stdout.write(`LOOPSTATS ${JSON.stringify(stats)}\n`);
    loop.reset();
    rank.reset();
    append.reset();
    gc.clear();
    elu = performance.eventLoopUtilization();
  });
}

/** `f`, recording each call's time to settle in µs (histograms hold integers). */
function timed<A, R>(f: (arg: A) => Promise<R>, into: { record(v: number): void }): (arg: A) => Promise<R> {
  return (arg) => {
    const started = performance.now();
    const pending = f(arg);
    const settle = () => into.record(Math.max(1, Math.round((performance.now() - started) * 1000)));
    pending.then(settle, settle);
    return pending;
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** perf_hooks' NODE_PERFORMANCE_GC_* flags. */
function gcKind(kind: number | undefined): string {
  if (kind === 1) return "scavenge";
  if (kind === 2) return "mark-compact";
  if (kind === 4) return "incremental";
  if (kind === 8) return "weak-callbacks";
  return `kind-${kind}`;
}
