import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { mainThreadTimes } from "./thread-cpu.js";

/**
 * `LOOPWISE_BENCH_STALLS=1` in a bench server (the soak's diagnosis): one `STALL` line on stderr for every
 * event-loop turn that blocked longer than `thresholdMs` (a 10 ms ticker that woke late), one `GC` line for every
 * collection pause over `gcMs` (kind: scavenge, mark-compact, incremental, weak callbacks), and every 10 s a `LOOP`
 * line with the event-loop delay histogram (p50/p99/max). Each line carries seconds since start, so a slow
 * request's time can be matched to what the loop was doing.
 * A stall line also says how the main thread spent it (thread-cpu.ts, read every tick: time on a
 * CPU, time runnable but waiting for one) and the process's page faults in it: a loop blocked by our code shows
 * `cpu` near the stall's length, a process descheduled by a loaded machine shows `runq`, a thread blocked in a
 * syscall or on a lock (a synchronous SQLite call waiting for the writer) shows neither. `other threads` is the
 * process's CPU in the stall beyond the main thread's (the log writer, the snapshot encoder, V8's GC helpers): a
 * GC pause with the main thread neither running nor queued and little CPU elsewhere is a parallel collection whose
 * helper threads were waiting for a core (a loaded machine), not work of ours.
 */
export function traceStalls(thresholdMs = 100, gcMs = 20): void {
  const started = performance.now();
  const at = () => ((performance.now() - started) / 1000).toFixed(2);
  const gcKinds: Record<number, string> = { 1: "scavenge", 2: "mark-compact", 4: "incremental", 8: "weakcb" };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration < gcMs) continue;
      const kind = gcKinds[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "?";
      process.stderr.write(`GC ${at()} ${kind} ${e.duration.toFixed(1)} ms\n`);
    }
  }).observe({ entryTypes: ["gc"] });
  let last = performance.now();
  let lastSched = schedstat();
  let lastFaults = process.resourceUsage();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const lag = now - last - 10;
    last = now;
    const sched = schedstat();
    const faults = process.resourceUsage();
    const cpu = process.cpuUsage();
    // The monotonic clock in µs too: a CPU profile's timestamps (--cpu-prof) are on it, so the stall's window
    // can be cut out of the profile (bench/support/profile-window.ts).
    if (lag > thresholdMs) {
      const ms = (ns: number) => (ns / 1e6).toFixed(0);
      const mainNs = sched.cpuNs - lastSched.cpuNs;
      const processNs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) * 1000;
      process.stderr.write(
        `STALL ${at()} ${lag.toFixed(0)} ms @${process.hrtime.bigint() / 1000n} main thread: cpu ${ms(mainNs)} ms, runq ${ms(sched.waitNs - lastSched.waitNs)} ms; other threads cpu ${ms(Math.max(0, processNs - mainNs))} ms; page faults minor ${faults.minorPageFault - lastFaults.minorPageFault} major ${faults.majorPageFault - lastFaults.majorPageFault}; involuntary switches ${faults.involuntaryContextSwitches - lastFaults.involuntaryContextSwitches}\n`,
      );
    }
    lastSched = sched;
    lastFaults = faults;
    lastCpu = cpu;
  }, 10).unref();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  setInterval(() => {
    const ms = (n: number) => (n / 1e6).toFixed(1);
    process.stderr.write(
      `LOOP ${at()} p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} max ${ms(delay.max)} ms\n`,
    );
    delay.reset();
  }, 10_000).unref();
}

/** The main thread's time on a CPU and in the run queue (ns), zeros where Linux's schedstat is not there. */
function schedstat(): { cpuNs: number; waitNs: number } {
  return mainThreadTimes() ?? { cpuNs: 0, waitNs: 0 };
}
