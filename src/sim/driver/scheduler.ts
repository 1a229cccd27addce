import type { Clock, ManualClock } from "../../core/clock.js";

/** An action due at a time; it may schedule more actions (a session's next step). */
type Action = () => Promise<void> | void;

interface Entry {
  at: number;
  seq: number;
  action: Action;
}

/** A min-heap of timed actions, ties broken by insertion order so runs are repeatable. */
export class EventQueue {
  private readonly heap: Entry[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, action: Action): void {
    const entry = { at, seq: this.seq++, action };
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, h[parent] as Entry)) break;
      h[i] = h[parent] as Entry;
      i = parent;
    }
    h[i] = entry;
  }

  peek(): Entry | undefined {
    return this.heap[0];
  }

  pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    // Sift `last` down from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = -1;
      let best = last;
      if (l < h.length && before(h[l] as Entry, best)) {
        m = l;
        best = h[l] as Entry;
      }
      if (r < h.length && before(h[r] as Entry, best)) {
        m = r;
        best = h[r] as Entry;
      }
      if (m < 0) break;
      h[i] = best;
      i = m;
    }
    h[i] = last;
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Runs the queue on simulated time: moves the ManualClock to each action's time and awaits it before the
 * next, so a run is sequential and repeatable. Stops at `until` (actions due later stay in the queue), or
 * early, with the clock where it is, once `stopped()` (asked after each action) says so.
 */
export async function runFast(
  queue: EventQueue,
  clock: ManualClock,
  until: number,
  stopped?: () => boolean,
): Promise<void> {
  for (;;) {
    const next = queue.peek();
    if (!next || next.at > until) break;
    queue.pop();
    if (next.at > clock.now()) clock.set(next.at);
    await next.action();
    if (stopped?.()) return;
  }
  if (clock.now() < until) clock.set(until);
}

export interface RealtimeOptions {
  /** Actions due after this instant are not run. */
  until: number;
  /** Upper bound on actions in flight (bounded request loop). */
  maxInFlight: number;
  /** Polled between actions: true stops the loop early (the demo's stop function). */
  stopped: () => boolean;
}

/**
 * Runs the queue in real time: waits until each action is due, starts it without waiting for the previous
 * ones (at most `maxInFlight` at once), and returns when the queue is empty and nothing is in flight.
 */
export async function runRealtime(queue: EventQueue, clock: Clock, options: RealtimeOptions): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  while (!options.stopped()) {
    const next = queue.peek();
    if (!next || next.at > options.until) {
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
      continue;
    }
    const wait = next.at - clock.now();
    if (wait > 0) {
      await sleep(Math.min(wait, 50));
      continue;
    }
    if (inFlight.size >= options.maxInFlight) {
      await Promise.race(inFlight);
      continue;
    }
    queue.pop();
    const p: Promise<void> = Promise.resolve()
      .then(next.action)
      .catch(() => undefined)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.allSettled([...inFlight]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
