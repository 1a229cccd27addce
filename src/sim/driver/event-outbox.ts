import type { Recorder } from "../report.js";
import type { SimEventBody, SimTarget } from "../target.js";
import { timed } from "./timed.js";

/** Events in one POST /v1/events at most (the engine takes up to 1,000 by default: `ingest.maxBatch`). */
const MAX_EVENTS_PER_POST = 500;

interface Queued {
  events: SimEventBody[];
  /** Called once the request carrying these events was answered (the recorder counts clicks, purchases). */
  onSent?: () => void;
}

/**
 * How the shop posts its events. With `batchMs` 0 each call posts at once (a page's view before its rank
 * request, so the engine's features see it). With `batchMs` > 0 the shop's tracker holds events and posts
 * them together at most that long after the first one waiting (as browser trackers such as Segment's and
 * Snowplow's do): one request, and one log transaction, for many events. The events keep their own
 * timestamps; a click still joins its decision's reward as long as it arrives within the reward window.
 */
export class EventOutbox {
  private waiting: Queued[] = [];

  constructor(
    private readonly target: SimTarget,
    private readonly recorder: Recorder,
    private readonly batchMs: number,
    private readonly schedule: (at: number, action: () => Promise<void>) => void,
    private readonly now: () => number,
  ) {}

  /** Posts `events` now, or queues them for the next batch; `onSent` runs once they were accepted. */
  async send(events: SimEventBody[], onSent?: () => void): Promise<void> {
    if (this.batchMs <= 0) {
      const ok = await timed(this.recorder, "events", () => this.target.ingestEvents({ events }));
      if (ok) onSent?.();
      return;
    }
    if (this.waiting.length === 0) this.schedule(this.now() + this.batchMs, () => this.flush());
    this.waiting.push(onSent ? { events, onSent } : { events });
  }

  /** Posts everything waiting (also at the end of a run, so no accepted click goes unsent). */
  async flush(): Promise<void> {
    const queued = this.waiting;
    this.waiting = [];
    for (let i = 0; i < queued.length; ) {
      const part: Queued[] = [];
      const events: SimEventBody[] = [];
      // A page's events stay in one request; a request holds at most MAX_EVENTS_PER_POST (or one page's).
      while (
        i < queued.length &&
        (events.length === 0 || events.length + queued[i]!.events.length <= MAX_EVENTS_PER_POST)
      ) {
        const q = queued[i++] as Queued;
        part.push(q);
        for (const e of q.events) events.push(e);
      }
      const ok = await timed(this.recorder, "events", () => this.target.ingestEvents({ events }));
      if (ok) for (const q of part) q.onSent?.();
    }
  }

  get pending(): number {
    return this.waiting.length;
  }
}
