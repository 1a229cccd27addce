import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { DEFAULT_JOIN } from "../decisions/join-config.js";
import { realisticDecision } from "../decisions/test-fixtures.js";
import { LearningLoop } from "./learning.js";
import { EngineMetrics } from "./metrics.js";

/**
 * `rewards.maxPendingBytes` is enforced on the learner's estimate, so the estimate must track the heap the
 * windows really hold. A measurement, not a timing: open N windows over fresh realistic decisions (100
 * candidates × 2 features, 10 slots, a profile and a context), force full GCs, and compare the heap they keep
 * alive with the estimate. bench/learning-memory.bench.ts measures the same through the engine's rank path.
 */
describe("the learner's byte estimate", () => {
  it("is within ±25% of the heap its windows keep alive (measured with full GCs)", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const learning = new LearningLoop(
      DEFAULT_JOIN,
      { get: () => undefined },
      new EngineMetrics(),
      pino({ level: "silent" }),
    );
    const n = 3000;
    // Built one by one and dropped, as rank does: only the windows keep anything of a decision.
    for (let i = 0; i < n; i++) learning.track(realisticDecision(i));
    const withWindows = settledHeap(gc);
    const estimated = learning.bytes;
    learning.closeWindows(Number.POSITIVE_INFINITY);
    const measured = withWindows - settledHeap(gc);
    expect(learning.size).toBe(0);
    const ratio = estimated / measured;
    expect(ratio, `estimate ${estimated} B, measured ${measured} B for ${n} windows`).toBeGreaterThan(0.75);
    expect(ratio, `estimate ${estimated} B, measured ${measured} B for ${n} windows`).toBeLessThan(1.25);
  });
});

function settledHeap(gc: () => void): number {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    const used = heapUsed + arrayBuffers; // a window's Float64Array keeps its backing store outside the heap
    if (used >= last - 64 * 1024) return used;
    last = used;
  }
  return last;
}
