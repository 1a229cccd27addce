import { LoopwiseApiError } from "./errors.js";
import type { EventInput, IngestResponse, ItemResult } from "./types.js";

/** One tracked event's outcome: the server's per-item result, or why its batch could not be delivered. */
export type TrackResult = ItemResult | { status: "failed"; id?: string; error: Error };

export interface BatcherOptions {
  /** Send when this many events are buffered (default 100; the server takes at most 1000 per batch). */
  maxBatch?: number;
  /** Send at most this long after the first buffered event (default 1000 ms). */
  maxDelayMs?: number;
}

interface Pending {
  event: EventInput & { eventId: string };
  resolve: (result: TrackResult) => void;
}

/**
 * Buffers `track()`ed events and sends them in batches (at `maxBatch` events or `maxDelayMs` after the
 * first), resolving each event's promise with its own result. Promises never reject, so an event nobody
 * awaits cannot become an unhandled rejection; a batch that could not be delivered resolves `failed`.
 * Events carry their eventId (given, or generated before buffering), so a retried batch counts once.
 */
export class EventBatcher {
  private buffer: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly send: (events: EventInput[]) => Promise<IngestResponse>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = Math.min(1000, Math.max(1, options.maxBatch ?? 100));
    this.maxDelayMs = options.maxDelayMs ?? 1000;
  }

  track(event: EventInput & { eventId: string }): Promise<TrackResult> {
    return new Promise((resolve) => {
      this.buffer.push({ event, resolve });
      if (this.buffer.length >= this.maxBatch) this.sendBuffered();
      else if (!this.timer) {
        this.timer = setTimeout(() => this.sendBuffered(), this.maxDelayMs);
        // A buffered event must not keep a Node process alive; call flush() before exiting.
        (this.timer as { unref?: () => void }).unref?.();
      }
    });
  }

  /** Sends everything buffered now and resolves when every batch sent so far has its answer. */
  async flush(): Promise<void> {
    this.sendBuffered();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  private sendBuffered(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.maxBatch);
      const sent: Promise<void> = this.deliver(batch).finally(() => this.inFlight.delete(sent));
      this.inFlight.add(sent);
    }
  }

  private async deliver(batch: Pending[]): Promise<void> {
    try {
      const response = await this.send(batch.map((p) => p.event));
      for (const r of response.results) batch[r.index]?.resolve(r);
    } catch (error) {
      batch.forEach((p, i) => {
        p.resolve(rejectedItem(error as Error, i, p.event.eventId));
      });
    }
  }
}

/** A batch answered 400 when none of its events was usable: each event gets its own field errors. */
function rejectedItem(error: Error, index: number, id: string): TrackResult {
  if (error instanceof LoopwiseApiError && error.status === 400 && error.problem?.errors) {
    const prefix = `events[${index}]`;
    const errors = error.problem.errors.filter((e) => e.path === prefix || e.path.startsWith(`${prefix}.`));
    return { index, id, status: "rejected", errors };
  }
  return { status: "failed", id, error };
}
