import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../app/config.js";
import { DEFAULT_MEMORY_BUDGET, parseByteSize } from "../app/memory-config.js";
import { growingPercentFor, HEAP_SHARE, startHeapBudget } from "./heap-budget.js";

const MiB = 1024 * 1024;

/** A full GC on demand without starting the process with --expose-gc. */
function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("the heap budget's growing factor", () => {
  it("grows by V8's maximum factor of 4 while 4x the live heap fits the target", () => {
    expect(growingPercentFor(10 * MiB, 600 * MiB)).toBe(300);
    expect(growingPercentFor(100 * MiB, 600 * MiB)).toBe(300);
    expect(growingPercentFor(150 * MiB, 600 * MiB)).toBe(300); // exactly 4
    expect(growingPercentFor(0, 600 * MiB)).toBe(0); // no full GC yet: V8 decides
  });

  it("shrinks the factor so that live x factor stays at the target as the live heap grows", () => {
    expect(growingPercentFor(200 * MiB, 600 * MiB)).toBe(200);
    expect(growingPercentFor(300 * MiB, 600 * MiB)).toBe(100);
    expect(growingPercentFor(400 * MiB, 600 * MiB)).toBe(50);
  });

  it("never goes below its floor: more frequent GCs past the budget, never an abort", () => {
    expect(growingPercentFor(500 * MiB, 600 * MiB)).toBe(25);
    expect(growingPercentFor(2000 * MiB, 600 * MiB)).toBe(25);
  });
});

describe("memory.budget", () => {
  it("defaults to 1.5 GiB and reads sizes from the environment", () => {
    expect(loadConfig({ env: {} }).memory.budget).toBe(DEFAULT_MEMORY_BUDGET);
    expect(loadConfig({ env: { LOOPWISE_MEMORY_BUDGET: "2GiB" } }).memory.budget).toBe(2 * 1024 * MiB);
    expect(loadConfig({ env: { LOOPWISE_MEMORY_BUDGET: "768m" } }).memory.budget).toBe(768 * MiB);
    expect(parseByteSize("1.5GiB")).toBe(1536 * MiB);
    expect(parseByteSize(1234567890)).toBe(1234567890);
  });

  it("refuses a size it cannot read or one too small to serve, naming the field", () => {
    expect(() => loadConfig({ env: { LOOPWISE_MEMORY_BUDGET: "lots" } })).toThrow(/memory\.budget.*expected a size/);
    expect(() => loadConfig({ env: { LOOPWISE_MEMORY_BUDGET: "64MiB" } })).toThrow(/memory\.budget.*at least 256MiB/);
  });
});

describe("startHeapBudget", () => {
  it("after a full GC, sets the factor the live heap and the budget's heap share call for", async () => {
    fullGc();
    const live = getHeapStatistics().used_heap_size;
    // A budget whose heap share is twice the live heap: the factor must come down to about 2 (percent ~100).
    const budget = startHeapBudget((2 * live) / HEAP_SHARE, { warn: () => {} });
    try {
      expect(budget.percent).toBe(0); // nothing set before a full GC
      const kept = Array.from({ length: 50_000 }, (_, i) => ({ i })); // a little more live
      fullGc();
      await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries arrive after the collection
      expect(budget.heapTarget).toBe(Math.round(2 * live));
      expect(budget.percent).toBeGreaterThanOrEqual(25);
      expect(budget.percent).toBeLessThan(100); // the live heap grew past half the target
      expect(kept.length).toBe(50_000);
    } finally {
      budget.stop();
    }
    expect(budget.percent).toBe(0); // stopped: V8's own factor again
  });

  it("warns once when the live heap is near the budget's heap share", async () => {
    const warnings: string[] = [];
    fullGc();
    const budget = startHeapBudget(getHeapStatistics().used_heap_size / HEAP_SHARE, {
      warn: (_o, m) => warnings.push(m),
    });
    try {
      fullGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      fullGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(budget.percent).toBe(25);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/raise memory.budget/);
    } finally {
      budget.stop();
    }
  });
});
