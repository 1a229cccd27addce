import { pino } from "pino";
import { type Clock, ManualClock } from "../core/clock.js";
import type { StreamAdapters } from "../duties/duty.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import type { ConfigInput, LoopwiseConfig } from "./config.js";
import { createEngine, type Engine, type EngineOptions } from "./engine.js";

export interface TestEngineOptions extends Omit<EngineOptions, "clock" | "adapters"> {
  /** Default: a ManualClock at 2026-01-01, which only moves when the test moves it. */
  clock?: Clock;
  config?: LoopwiseConfig | ConfigInput;
  adapters?: Partial<StreamAdapters>;
}

/**
 * An engine for tests, quickly (DESIGN.md's composition root: `createEngine` beside a test engine of fakes):
 * the log in an in-memory SQLite database, the in-process stream, lease and snapshot adapters on the same
 * manual clock, a silent logger. Anything given overrides those. Close it after the test (`engine.close()`).
 */
export function createTestEngine(options: TestEngineOptions = {}): Promise<Engine> {
  const clock = options.clock ?? new ManualClock();
  const config = options.config ?? {};
  const partitions = "stream" in config && config.stream?.partitions ? config.stream.partitions : 4;
  return createEngine({
    ...options,
    dataDir: options.dataDir ?? ":memory:",
    clock,
    logger: options.logger ?? pino({ level: "silent" }),
    config,
    adapters: {
      stream: createMemoryDecisionStream({ partitions, clock }),
      leases: createMemoryLeaseStore(clock),
      snapshots: createMemorySnapshotStore(),
      ...options.adapters,
    },
  });
}
