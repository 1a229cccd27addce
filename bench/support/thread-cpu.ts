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

export function mainThreadTimes(): ThreadTimes | undefined {
  try {
    const [cpu, wait] = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "utf8").split(" ");
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
  for (const tid of tasks) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}

/**
 * CPU time (ns) of process `pid`'s main thread (its event loop: the tid is the pid) so far; 0 where unreadable.
 * The thread that saturates first, so its share of a second at a fixed rate is what sets the latency tail.
 */
export function mainThreadCpuNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
}
