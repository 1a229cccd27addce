import type { PolicySpec } from "../../src/bandit/policy.js";
import { decodeCheckpoint, encodeCheckpointV8 } from "../../src/duties/learner-checkpoint.js";
import type { LearnerDuty } from "../../src/duties/learner-duty.js";
import type { LeaseStore } from "../../src/stream/lease-store.js";
import type { StreamEntry } from "../../src/stream/stream-entry.js";
import { applyUpTo, startBenchLearner } from "./learner-checkpoints.js";

/** One way of writing a full checkpoint, measured on the same state: the median over the rounds. */
export interface EncodingFigures {
  cpuMs: number;
  wallMs: number;
  /** The longest stretch the event loop did not turn while the checkpoint was written (ms, wall). */
  maxBlockMs: number;
  /**
   * The most CPU spent between two turns (ms): the longest synchronous section in CPU terms, which a loaded
   * machine does not stretch as it stretches wall time (it includes GC helper threads' CPU).
   */
  maxBlockCpuMs: number;
  bytes: number;
  /** Decoding the bytes back (what a standby's start pays), one synchronous call. */
  decodeCpuMs: number;
}

/**
 * A full learner checkpoint at many open windows, the two ways, alternated `rounds` times in one process on
 * the same state (a loaded machine shifts both alike; compare the ratios): format 1 as the duty wrote it
 * before (policy snapshot, the join's plain state, one V8 serialize: one synchronous call), and the duty's own
 * `checkpoint()` now (format 2: the join's columns built in slices with a turn of the event loop between,
 * then the fenced write to the memory lease store). The event loop's longest stall is measured by a
 * setImmediate chain running beside the checkpoint: the gap between two of its turns.
 */
export async function compareFullEncodings(
  spec: PolicySpec,
  entries: readonly StreamEntry[],
  o: { start: number; windowMs: number; warmEntries: number },
  rounds: number,
): Promise<{ openWindows: number; v8: EncodingFigures; columns: EncodingFigures }> {
  const { duty, leases, now } = await warmDuty(spec, entries, o);
  const v8: EncodingFigures[] = [];
  const columns: EncodingFigures[] = [];
  for (let i = 0; i < rounds; i++) {
    let bytes: Uint8Array = new Uint8Array();
    const old = await measured(async () => {
      const policy = duty.policy!.snapshot();
      const join = duty.joinState()!;
      bytes = encodeCheckpointV8({ policy, join, positions: {}, applied: 0, generation: 1 });
    });
    v8.push({ ...old, bytes: bytes.byteLength, decodeCpuMs: decodeMs(bytes) });
    const now2 = await measured(() => duty.checkpoint(now));
    const written = (await leases.fencedRead(duty.name, "checkpoint"))!;
    columns.push({ ...now2, bytes: written.byteLength, decodeCpuMs: decodeMs(written) });
  }
  return { openWindows: duty.status()!.openWindows, v8: median(v8), columns: median(columns) };
}

async function warmDuty(
  spec: PolicySpec,
  entries: readonly StreamEntry[],
  o: { start: number; windowMs: number; warmEntries: number },
): Promise<{ duty: LearnerDuty; leases: LeaseStore; now: number }> {
  const warm = await startBenchLearner(spec, entries, o, { fullCheckpointEvery: 1, maxEntriesPerStep: 5_000 });
  await applyUpTo(warm.duty, o.warmEntries, warm.now, Number.POSITIVE_INFINITY);
  return warm;
}

async function measured(
  work: () => Promise<void>,
): Promise<{ cpuMs: number; wallMs: number; maxBlockMs: number; maxBlockCpuMs: number }> {
  const watch = loopWatch();
  await new Promise((resolve) => setImmediate(resolve)); // the watch's first turn is in
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - wall;
  return { cpuMs: (used.user + used.system) / 1000, wallMs, ...watch() };
}

/** Records the longest gap between turns of the event loop, in wall and CPU time, until the returned function is called. */
function loopWatch(): () => { maxBlockMs: number; maxBlockCpuMs: number } {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxBlockMs = 0;
  let maxBlockCpuMs = 0;
  let running = true;
  const turn = () => {
    const t = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    maxBlockMs = Math.max(maxBlockMs, t - last);
    maxBlockCpuMs = Math.max(maxBlockCpuMs, (cpu.user + cpu.system) / 1000);
    last = t;
    lastCpu = process.cpuUsage();
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    running = false;
    turn();
    return { maxBlockMs, maxBlockCpuMs };
  };
}

function decodeMs(bytes: Uint8Array): number {
  const cpu = process.cpuUsage();
  decodeCheckpoint(bytes);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000;
}

function median(runs: EncodingFigures[]): EncodingFigures {
  const mid = (pick: (f: EncodingFigures) => number) => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  return {
    cpuMs: mid((f) => f.cpuMs),
    wallMs: mid((f) => f.wallMs),
    maxBlockMs: mid((f) => f.maxBlockMs),
    maxBlockCpuMs: mid((f) => f.maxBlockCpuMs),
    bytes: mid((f) => f.bytes),
    decodeCpuMs: mid((f) => f.decodeCpuMs),
  };
}
