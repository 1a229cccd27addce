import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";

/**
 * The main heap in use right after the last full (mark-compact) GC: what is live, as against
 * `nodejs_heap_size_total_bytes`, what V8 keeps reserved for it. The soak (issue 12) needed the two apart:
 * at its end V8 reserved 1,125 MiB while the heap in use never read above ~313 MiB just after a collection,
 * and no sample of `heapUsed` alone says which part is garbage not yet collected. Read when the GC's
 * performance entry arrives (a turn after the GC: close to, not exactly, the heap it left). One observer per
 * process, started by the first caller; 0 until the first full GC.
 */
let liveBytes = 0;
let observer: PerformanceObserver | undefined;

export function liveHeapBytes(): number {
  if (!observer) {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) liveBytes = getHeapStatistics().used_heap_size;
      }
    });
    observer.observe({ entryTypes: ["gc"] });
  }
  return liveBytes;
}
