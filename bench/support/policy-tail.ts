import { PerformanceObserver } from "node:perf_hooks";

/**
 * Why the slow calls of the policy-alone run (policy-alone.ts) are slow. Per call it keeps the wall and process
 * CPU time, the serving epoch's age (calls since the last refresh: the first calls of an epoch rebuild what the
 * refresh invalidated: noise rows, interaction sums, arms synced from the learner) and the noise rows drawn in the
 * call; GC steps come from perf_hooks' 'gc' entries, matched to calls by time afterwards. The summary prints the
 * p50/p99 of each class and what the slowest 1 % of calls have in common, so a tail is attributed, not guessed.
 */
export interface TailSummary {
  /** p99 of the calls in no class below (no GC, not in an epoch's first calls, no noise rows drawn). */
  cleanP99: number;
  classes: Record<string, TailClass>;
  /** Of the slowest 1 %: the share whose CPU time is under 70 % of the wall time (waited for a core). */
  slowWaitedShare: number;
  /** Of the slowest 1 %: their mean CPU µs / mean wall µs. */
  slowCpuOverWall: number;
  /** GC steps seen over the whole run (the engine's share of it included), and their total ms. */
  gcSteps: number;
  gcMs: number;
}

/** One class of calls: wall and CPU µs percentiles, and its share of the slowest 1 % (by wall). */
export interface TailClass {
  calls: number;
  p50: number;
  p99: number;
  cpuP50: number;
  cpuP99: number;
  ofSlowest: number;
}

/** An epoch's first calls (age < this) count as "after an epoch change". */
const EPOCH_START = 3;
/** A capture batch's first calls (position < this) ran right after the engine's ranks (policy-alone.ts). */
const AFTER_CAPTURE = 10;

export class TailRecorder {
  private readonly start: Float64Array;
  private readonly end: Float64Array;
  private readonly wall: Float64Array;
  private readonly cpu: Float64Array;
  private readonly epochAge: Int32Array;
  private readonly rows: Int32Array;
  private readonly batchPosition: Int32Array;
  private readonly gcSpans: number[] = [];
  private readonly observer: PerformanceObserver;

  constructor(readonly rounds: number) {
    this.start = new Float64Array(rounds);
    this.end = new Float64Array(rounds);
    this.wall = new Float64Array(rounds);
    this.cpu = new Float64Array(rounds);
    this.epochAge = new Int32Array(rounds);
    this.rows = new Int32Array(rounds);
    this.batchPosition = new Int32Array(rounds);
    this.observer = new PerformanceObserver((list) => this.takeGc(list.getEntries()));
    this.observer.observe({ entryTypes: ["gc"] });
  }

  record(
    i: number,
    t0: number,
    t1: number,
    cpuUs: number,
    epochAge: number,
    rowsDrawn: number,
    batchPosition: number,
  ): void {
    this.start[i] = t0;
    this.end[i] = t1;
    this.wall[i] = (t1 - t0) * 1000;
    this.cpu[i] = cpuUs;
    this.epochAge[i] = epochAge;
    this.rows[i] = rowsDrawn;
    this.batchPosition[i] = batchPosition;
  }

  private takeGc(entries: readonly { startTime: number; duration: number }[]): void {
    for (const e of entries) this.gcSpans.push(e.startTime, e.startTime + e.duration);
  }

  /** Stops observing (after one turn of the loop, so buffered GC entries are delivered) and summarizes. */
  async finish(): Promise<TailSummary> {
    await new Promise((resolve) => setImmediate(resolve));
    this.takeGc(this.observer.takeRecords());
    this.observer.disconnect();
    return this.summarize();
  }

  /** Per call: 1 when a GC step overlapped it. Spans and calls are both in time order. */
  private gcFlags(): Uint8Array {
    const flags = new Uint8Array(this.rounds);
    const spans = this.gcSpans;
    let s = 0;
    for (let i = 0; i < this.rounds; i++) {
      while (s < spans.length && spans[s + 1]! < this.start[i]!) s += 2;
      for (let j = s; j < spans.length && spans[j]! <= this.end[i]!; j += 2) {
        if (spans[j + 1]! >= this.start[i]!) flags[i] = 1;
      }
    }
    return flags;
  }

  private summarize(): TailSummary {
    const { rounds, wall, cpu } = this;
    const gc = this.gcFlags();
    const sorted = wall.slice().sort();
    const slowCut = sorted[Math.min(rounds - 1, Math.floor(0.99 * rounds))]!;
    const slow = (i: number) => wall[i]! >= slowCut;
    const causes: Record<string, (i: number) => boolean> = {
      "GC during the call": (i) => gc[i] === 1,
      [`epoch's first ${EPOCH_START} calls`]: (i) => this.epochAge[i]! < EPOCH_START,
      "noise rows drawn": (i) => this.rows[i]! > 0,
      [`first ${AFTER_CAPTURE} calls after an input capture`]: (i) => this.batchPosition[i]! < AFTER_CAPTURE,
    };
    const anyCause = Object.values(causes);
    const tests = { ...causes, "none of these": (i: number) => !anyCause.some((test) => test(i)) };
    const classes: TailSummary["classes"] = {};
    let slowCount = 0;
    for (let i = 0; i < rounds; i++) if (slow(i)) slowCount++;
    for (const [name, test] of Object.entries(tests)) {
      const times: number[] = [];
      const cpuTimes: number[] = [];
      let ofSlowest = 0;
      for (let i = 0; i < rounds; i++) {
        if (!test(i)) continue;
        times.push(wall[i]!);
        cpuTimes.push(cpu[i]!);
        if (slow(i)) ofSlowest++;
      }
      const s = Float64Array.from(times).sort();
      const c = Float64Array.from(cpuTimes).sort();
      classes[name] = {
        calls: s.length,
        p50: at(s, 0.5),
        p99: at(s, 0.99),
        cpuP50: at(c, 0.5),
        cpuP99: at(c, 0.99),
        ofSlowest: ofSlowest / slowCount,
      };
    }
    let waited = 0;
    let slowCpu = 0;
    let slowWall = 0;
    for (let i = 0; i < rounds; i++) {
      if (!slow(i)) continue;
      if (cpu[i]! < 0.7 * wall[i]!) waited++;
      slowCpu += cpu[i]!;
      slowWall += wall[i]!;
    }
    let gcMs = 0;
    for (let j = 0; j < this.gcSpans.length; j += 2) gcMs += this.gcSpans[j + 1]! - this.gcSpans[j]!;
    return {
      gcSteps: this.gcSpans.length / 2,
      gcMs,
      cleanP99: classes["none of these"]!.p99,
      classes,
      slowWaitedShare: waited / slowCount,
      slowCpuOverWall: slowCpu / slowWall,
    };
  }
}

function at(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The summary as lines for the bench's output. */
export function formatTail(t: TailSummary): string {
  const lines = Object.entries(t.classes).map(
    ([name, c]) =>
      `  ${name}: ${c.calls} calls, p50 ${c.p50.toFixed(0)} µs, p99 ${c.p99.toFixed(0)} µs (CPU p50 ${c.cpuP50.toFixed(0)}, p99 ${c.cpuP99.toFixed(0)} µs), ${(100 * c.ofSlowest).toFixed(0)} % of the slowest 1 %`,
  );
  lines.push(
    `  slowest 1 %: CPU/wall ${t.slowCpuOverWall.toFixed(2)}, ${(100 * t.slowWaitedShare).toFixed(0)} % of them ran < 70 % of their wall time (waited for a core); ${t.gcSteps} GC steps in the run (${t.gcMs.toFixed(0)} ms, the engine's included)`,
  );
  return lines.join("\n");
}
