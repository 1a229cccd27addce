import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";

/**
 * Keeps the main V8 heap's reserve inside a share of the process's memory budget (`memory.budget`, issue 12's
 * soak). After each full GC, V8 sets the next old-generation limit to the live heap times a growing factor, which
 * at saturation reaches its maximum of 4 (V8 heap/heap-controller.cc, `MaxGrowingFactor`): the lead's soak held
 * ~214 MiB live against ~890 MiB reserved, and RSS pays for the reserve. So after each full GC this sets V8's
 * `--heap-growing-percent` (read at every limit computation, so it takes effect at run time) to what keeps
 * live × factor at the heap's share of the budget: as the bounded holders fill, the factor shrinks and the
 * reserve stays flat instead of growing 4× with them.
 *
 * While 4× the live heap fits, the factor is V8's maximum of 4, not V8's own: V8 derives its factor from how fast
 * it marks, and a small live heap that marks fast got ~1.6 (measured at 1,000 ranks/s over HTTP with a 46 MB live
 * heap: the next limit ~76 MB, a full GC every 1.5 s, 7-11 in 15 s, each finalized in a 5-20 ms pause of the event
 * loop). With 4, 1-2 in the same 15 s, and the fixed-rate p99 was lower in 3 of 3 alternated runs (19 / 62 / 749 ms
 * against 45 / 148 / 1,783). The memory this reserves stays inside the budget's heap share, which is what it is for.
 *
 * Why not `--max-old-space-size`: it is fixed when the isolate is created (a process flag; `v8.setFlagsFromString`
 * later has no effect), so it would need NODE_OPTIONS or a re-exec (whose wrapper a kill -9 would leave
 * orphaning the real server), and past it V8 aborts the process. The factor never aborts: with live above
 * the share it falls to its floor and V8 collects more often (logged once). Operators who want a hard ceiling
 * too add NODE_OPTIONS=--max-old-space-size (README, Operations).
 */

/** The main heap's share of the memory budget; the rest is external buffers, the log writer thread, native. */
export const HEAP_SHARE = 0.4;
/** V8's own maximum growing factor (heap-controller.cc): the factor used while the budget does not bind. */
const V8_MAX_FACTOR = 4;
/** Below this, V8 would collect nearly every time the heap grows a little: bounded GC cost, never an abort. */
const MIN_FACTOR = 1.25;

/**
 * The growing percent that keeps `live × factor` at `heapTarget`, and V8's maximum factor while that fits (0: no full
 * GC measured the live heap yet, V8 decides).
 */
export function growingPercentFor(liveBytes: number, heapTarget: number): number {
  if (liveBytes <= 0) return 0;
  const factor = heapTarget / liveBytes;
  if (factor >= V8_MAX_FACTOR) return Math.round((V8_MAX_FACTOR - 1) * 100);
  return Math.round((Math.max(factor, MIN_FACTOR) - 1) * 100);
}

export interface HeapBudget {
  /** The main heap's target (bytes): the budget's heap share. */
  readonly heapTarget: number;
  /** The growing percent set last (0: V8's own). */
  readonly percent: number;
  stop(): void;
}

export interface HeapBudgetLog {
  warn(obj: object, msg: string): void;
}

/** Starts steering V8's heap growth toward `budgetBytes × HEAP_SHARE`; one per process (the server's start). */
export function startHeapBudget(budgetBytes: number, log: HeapBudgetLog): HeapBudget {
  const heapTarget = Math.round(budgetBytes * HEAP_SHARE);
  let percent = 0;
  let warned = false;
  const adjust = () => {
    const live = getHeapStatistics().used_heap_size;
    const next = growingPercentFor(live, heapTarget);
    if (next === percent) return;
    percent = next;
    // A flag V8 reads at each heap limit computation; 0 restores its own dynamic factor.
    setFlagsFromString(`--heap-growing-percent=${next}`);
    if (!warned && live * MIN_FACTOR > heapTarget) {
      warned = true;
      log.warn(
        { liveBytes: live, heapTarget, budgetBytes },
        "memory: the live heap is near the memory budget's heap share; V8 collects more often (raise memory.budget)",
      );
    }
  };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) adjust();
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return {
    heapTarget,
    get percent() {
      return percent;
    },
    stop() {
      observer.disconnect();
      if (percent !== 0) setFlagsFromString("--heap-growing-percent=0");
      percent = 0;
    },
  };
}
