import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { threadId } from "node:worker_threads";

/**
 * How long each step of the log writer's loop holds its thread (every request's ack waits behind it): a bench
 * aid, off unless `LOOPWISE_WRITER_TRACE` names a directory, where the thread writes one JSON file of durations
 * (ms) per kind when it closes (bench/support/writer-trace-summary.ts prints their distribution). Reading the
 * env here, not from config: it is a measuring probe of the adapter, never a setting a deployment uses.
 */
export type TraceKind =
  | "commit"
  | "commitWithSnapshot"
  | "commitWithSnapshotPart"
  | "commitWithSnapshotPrune"
  | "seal"
  | "checkpointRequest"
  | "ownCheckpoint";

/** This thread's time on a CPU and waiting in the run queue (ns; Linux's /proc/thread-self/schedstat), else zeros. */
export interface ThreadTimes {
  cpuNs: number;
  runqNs: number;
}

/**
 * Holds longer than this also record their thread CPU and run-queue time (`long:<kind>:ms|cpu|runq`) and when
 * they ended (`long:<kind>:at`, epoch ms: to line a hold up with what else ran then, e.g. a thread sampler).
 */
const LONG_MS = 5;

export class WriterTrace {
  private readonly spans = new Map<string, number[]>();

  private constructor(private readonly dir: string) {}

  /**
   * Read before and after a step and passed to `add`: a long hold is then split into the thread's CPU, its wait
   * for a core (a loaded machine) and the rest (blocked: I/O, a lock), so a slow commit is attributed.
   */
  threadTimes(): ThreadTimes {
    try {
      const [cpu, runq] = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
      return { cpuNs: Number(cpu), runqNs: Number(runq) };
    } catch {
      return { cpuNs: 0, runqNs: 0 };
    }
  }

  /** A trace when `LOOPWISE_WRITER_TRACE` is set, else undefined (callers then skip every clock read). */
  static fromEnv(): WriterTrace | undefined {
    const dir = process.env.LOOPWISE_WRITER_TRACE;
    return dir ? new WriterTrace(dir) : undefined;
  }

  add(kind: TraceKind, ms: number, from?: ThreadTimes, to?: ThreadTimes): void {
    this.push(kind, ms);
    if (ms <= LONG_MS || !from || !to) return;
    this.push(`long:${kind}:ms`, ms);
    this.push(`long:${kind}:cpu`, (to.cpuNs - from.cpuNs) / 1e6);
    this.push(`long:${kind}:runq`, (to.runqNs - from.runqNs) / 1e6);
    this.push(`long:${kind}:at`, Date.now());
  }

  private push(kind: string, ms: number): void {
    const list = this.spans.get(kind);
    if (list) list.push(ms);
    else this.spans.set(kind, [ms]);
  }

  /** Writes the spans to `<dir>/writer-<pid>-<thread>.json`. */
  flush(): void {
    mkdirSync(this.dir, { recursive: true });
    const out = Object.fromEntries(this.spans);
    writeFileSync(join(this.dir, `writer-${process.pid}-${threadId}.json`), JSON.stringify(out));
  }
}
