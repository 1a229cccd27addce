import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** `global.gc` without a command-line flag, so `npm run bench` can run the memory suites as it runs the others. */
export function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/**
 * heapUsed plus array buffers (typed arrays keep their backing store outside the heap) after full collections
 * until it stops falling: weak and finalized objects go in a later pass.
 */
export function settledHeap(gc: () => void): number {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    const used = heapUsed + arrayBuffers;
    if (used >= last - 64 * 1024) return used;
    last = used;
  }
  return last;
}
