import { setFlagsFromString } from "node:v8";

/**
 * Turns off V8's memory reducer for the process (every isolate created after the call: the main one's timer
 * and the worker threads' are read when they would fire). Call once, before the engine starts its threads.
 *
 * Why: the memory reducer shrinks an isolate's heap with extra full GCs ("Mark-Compact (reduce)") once its
 * allocation rate is low, first about 8 s after the isolate starts (memory-reducer.cc's long delay). A serving
 * process has several nearly idle worker isolates (the log writer, the WAL checkpointer, the request threads): measured
 * with `--trace-gc` on the bench server at 500 ranks/s, 7 isolates ran 2-3 of them each at 8.2-9.4 s after start,
 * 2-25 ms apiece, 18 in all within 1.3 s, and one isolate two more at 40.6 and 41.3 s (a 50-s run). Each can be
 * the log writer's, a hold every acknowledgement waits behind; on a 2-vCPU machine the others take the cores the
 * main thread and the writer need; and they return at most a few MiB per isolate. With the call, none ran.
 * Paired runs of the fixed-rate tail (12 pairs at 500 and 1,000 ranks/s, with and without it alternated) did not
 * separate clearly from the machine's swings (p99 lower without the reducer in 8 pairs, higher in 4; at 1,000
 * ranks/s 32-95 ms without it, 36-1,570 with it), so this removes a known source of stalls, not a measured share
 * of the p99. The heap's size is steered by the memory budget instead (heap-budget.ts).
 */
export function disableMemoryReducer(): void {
  setFlagsFromString("--no-memory-reducer");
}
