import { mkdirSync, writeFileSync } from "node:fs";
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
  | "checkpointRequest";

export class WriterTrace {
  private readonly spans = new Map<TraceKind, number[]>();

  private constructor(private readonly dir: string) {}

  /** A trace when `LOOPWISE_WRITER_TRACE` is set, else undefined (callers then skip every clock read). */
  static fromEnv(): WriterTrace | undefined {
    const dir = process.env.LOOPWISE_WRITER_TRACE;
    return dir ? new WriterTrace(dir) : undefined;
  }

  add(kind: TraceKind, ms: number): void {
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
