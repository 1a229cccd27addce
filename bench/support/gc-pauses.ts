import { constants, PerformanceObserver } from "node:perf_hooks";

/**
 * Preloaded into a bench server (`node --import tsx --import <this file> server-child.ts`, bench/soak.bench.ts):
 * every GC pause by kind and every event-loop stall (serving, and apart those of start-up), summed up in one `GCSTATS {json}` line on stdout every 5 s
 * (the bench keeps the last). A preload rather than code in server-child.ts so the same measurement runs in
 * another checkout's server (the A/B base) unchanged. GC entries are perf_hooks' 'gc' performance entries:
 * `duration` is the main-thread pause of that collection step (a mark-compact's final pause, an incremental
 * marking step, a scavenge).
 */
const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};
const pauses = new Map<string, number[]>();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "other";
    const durations = pauses.get(kind) ?? [];
    if (durations.length === 0) pauses.set(kind, durations);
    durations.push(e.duration);
  }
}).observe({ entryTypes: ["gc"] });

/**
 * Stalls: a 10 ms ticker that woke late by more than 50 ms (the lag is how long the loop was blocked). Those
 * before the server printed READY (start-up: opening the engine, loading the catalog) are counted apart: they
 * delay no request, and counted with the serving ones they read as unexplained stalls under load.
 */
const TICK_MS = 10;
const stalls: number[] = [];
const startupStalls: number[] = [];
let ready = false;
const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
  if (!ready && String(chunk).startsWith("READY ")) ready = true;
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const lag = now - last - TICK_MS;
  last = now;
  if (lag > 50) (ready ? stalls : startupStalls).push(lag);
}, TICK_MS).unref();

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number) => Math.round(x * 10) / 10;

function summary(): Record<string, unknown> {
  const gc: Record<string, unknown> = {};
  for (const [kind, list] of pauses) {
    const sorted = [...list].sort((a, b) => a - b);
    const total = sorted.reduce((s, x) => s + x, 0);
    gc[kind] = {
      count: sorted.length,
      totalMs: Math.round(total),
      p99Ms: round(quantile(sorted, 0.99)),
      maxMs: round(sorted.at(-1) ?? 0),
    };
  }
  const sortedStalls = [...stalls].sort((a, b) => a - b);
  return {
    gc,
    stalls: {
      over50ms: stalls.length,
      over100ms: stalls.filter((s) => s > 100).length,
      over250ms: stalls.filter((s) => s > 250).length,
      maxMs: round(sortedStalls.at(-1) ?? 0),
    },
    startupStalls: { over50ms: startupStalls.length, maxMs: round(Math.max(0, ...startupStalls)) },
  };
}

setInterval(() => process.stdout.write(`GCSTATS ${JSON.stringify(summary())}\n`), 5000).unref();
