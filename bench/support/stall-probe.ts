import { writeFileSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { mainThreadTimes } from "./thread-cpu.js";

/**
 * Preloaded into a bench server (`node --import tsx --import <this file> server-child.ts`, bench/stalls.bench.ts):
 * every event-loop block over `LOOPWISE_BENCH_STALL_MS` (default 10) once the server printed READY, with the main
 * thread's CPU and run-queue time in it (thread-cpu.ts), and every GC pause over 2 ms, written as JSON to
 * `LOOPWISE_BENCH_STALL_FILE` when the process exits. A preload rather than code in server-child.ts so a base
 * checkout's server is measured by the same probe (A/B). Times are µs on the monotonic clock `--cpu-prof` uses, so
 * a stall's window can be cut out of the CPU profile (stall-causes.ts).
 * The ticker runs every 2 ms: a block is its lag beyond that (a 10 ms block is seen as >= 10 ms late).
 */
export interface ProbeStall {
  endUs: number;
  ms: number;
  cpuMs: number;
  runqMs: number;
}
export interface ProbeGc {
  startUs: number;
  ms: number;
  kind: string;
}

const file = process.env.LOOPWISE_BENCH_STALL_FILE;
const thresholdMs = Number(process.env.LOOPWISE_BENCH_STALL_MS ?? 10);
const TICK_MS = 2;
const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};
const stalls: ProbeStall[] = [];
const gcs: ProbeGc[] = [];
let ready = false;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
  if (!ready && String(chunk).startsWith("READY ")) ready = true;
  return write(chunk, ...rest);
}) as typeof process.stdout.write;

new PerformanceObserver((list) => {
  if (!ready) return;
  // performance.now() and hrtime tick together: map an entry's start onto hrtime µs.
  const offsetUs = nowUs() - performance.now() * 1000;
  for (const e of list.getEntries()) {
    if (e.duration < 2) continue;
    const kind = KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "other";
    gcs.push({ startUs: Math.round(offsetUs + e.startTime * 1000), ms: e.duration, kind });
  }
}).observe({ entryTypes: ["gc"] });

let last = performance.now();
let lastTimes = mainThreadTimes();
setInterval(() => {
  const now = performance.now();
  const lag = now - last - TICK_MS;
  last = now;
  const times = mainThreadTimes();
  if (ready && lag > thresholdMs && times && lastTimes) {
    stalls.push({
      endUs: nowUs(),
      ms: lag,
      cpuMs: (times.cpuNs - lastTimes.cpuNs) / 1e6,
      runqMs: (times.waitNs - lastTimes.waitNs) / 1e6,
    });
  }
  lastTimes = times;
}, TICK_MS).unref();

process.on("exit", () => {
  if (file) writeFileSync(file, JSON.stringify({ thresholdMs, stalls, gcs }));
});
