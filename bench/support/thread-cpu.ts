import { readdirSync, readFileSync } from "node:fs";

/**
 * The main thread's own CPU time, and the time it sat runnable waiting for a core, from Linux's
 * per-task schedstat (`/proc/<pid>/task/<tid>/schedstat`: ns on a CPU, ns waiting on a run queue,
 * timeslices; the main thread's tid is the pid). Node 20 has no `process.threadCpuUsage`, and
 * `process.cpuUsage` adds every thread (the log writer's, GC helpers'), so this is the event loop's
 * budget alone. The wait time says how much a loaded machine stretched wall-clock figures.
 * Undefined where the file does not exist (not Linux, or schedstats off).
 */
export interface ThreadTimes {
  cpuNs: number;
  waitNs: number;
}

/** This process's main thread, or process `pid`'s (a bench server child, bench/support/config-ab.ts). */
export function mainThreadTimes(pid = process.pid): ThreadTimes | undefined {
  return taskTimes(pid, pid);
}

/** One thread's schedstat; undefined where unreadable (not Linux, schedstats off, or the thread ended). */
function taskTimes(pid: number, tid: number | string): ThreadTimes | undefined {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
    return { cpuNs: Number(cpu), waitNs: Number(wait) };
  } catch {
    return undefined;
  }
}

/** Main-thread CPU and run-queue wait since `from`, in µs per op (undefined when not measurable). */
export function perOpSince(from: ThreadTimes | undefined, ops: number): { cpuUs: number; waitUs: number } | undefined {
  const to = mainThreadTimes();
  if (!from || !to) return undefined;
  return { cpuUs: (to.cpuNs - from.cpuNs) / 1000 / ops, waitUs: (to.waitNs - from.waitNs) / 1000 / ops };
}

/** CPU time (ns) of every thread of process `pid` so far (Linux schedstat; 0 where unreadable): its whole cost. */
export function processCpuNs(pid: number): number {
  let total = 0;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  // A thread that ended between the listing and the read counts 0.
  for (const tid of tasks) total += taskTimes(pid, tid)?.cpuNs ?? 0;
  return total;
}

/**
 * A server's CPU per request during a load, in µs: its main thread's (the event loop, which saturates first) and
 * all its threads' (the log writer's, the GC helpers': they share the cores with it). Compare with
 * bench/support/tail-floor.ts, which gives the p99 of plain work of the same cost (docs/scaling.md).
 */
export interface ServerCpu {
  mainUs: number;
  processUs: number;
}

/**
 * Runs a load against process `pid` and divides the CPU it took by the requests answered (`cpu` undefined where
 * schedstat is unreadable).
 */
export async function cpuPerRequestDuring<T extends { requests?: number }>(
  pid: number,
  run: () => Promise<T>,
): Promise<{ result: T; cpu?: ServerCpu }> {
  const main0 = mainThreadTimes(pid);
  const process0 = processCpuNs(pid);
  const result = await run();
  const main1 = mainThreadTimes(pid);
  const requests = result.requests ?? 0;
  if (!main0 || !main1 || requests <= 0) return { result };
  const perRequest = (ns: number) => Math.round(ns / 1000 / requests);
  return {
    result,
    cpu: { mainUs: perRequest(main1.cpuNs - main0.cpuNs), processUs: perRequest(processCpuNs(pid) - process0) },
  };
}
