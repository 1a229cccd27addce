import type { FeatureMap, UserEvent } from "../../core/types.js";
import type { LogOp } from "./log-ops.js";

/**
 * An `events` op as it crosses to the log writer's thread: a few flat values instead of one object per
 * event. A structured clone writes every object's property names again and rebuilds each object on the
 * other side (issue 12: the clone was 7 % of the main thread under a batches-of-100 load); one array per
 * field halved that, and still cloned each string on its own (tag, length, bytes; an allocation each on the
 * other side). Here every string field of every event is in one string, `text`, cut by `lengths`: the clone
 * copies one string and three typed arrays, whatever the batch size. Measured on 100-event batches (a
 * worker echo, main-thread CPU including the reply): 40 → 24 µs per batch, and the writer's receive about
 * half (issue 12, s21). The writer thread rebuilds the events (`fromWireOp`), which it stringifies anyway
 * for the log's body column.
 *
 * Only the fields of `UserEvent` cross (the event schema is strict, so a validated event has no others).
 */
export interface EventColumns {
  /** Events in the batch. */
  n: number;
  /** The string fields of every event, in `STRING_FIELDS` order per event, concatenated. */
  text: string;
  /** Per event and string field (`STRING_FIELDS.length` per event): its length in `text`, -1 when absent. */
  lengths: Int32Array;
  timestamp: Float64Array;
  /** price and value per event (two per event), NaN when absent; only when some event has either. */
  numbers?: Float64Array;
  /** Only when some event of the batch has a context. */
  context?: (FeatureMap | undefined)[];
}

/** What the writer's thread receives: every op as it is, except events as columns. */
export type WireOp = Exclude<LogOp, { kind: "events" }> | { kind: "eventColumns"; columns: EventColumns };

/** The string fields in `UserEvent`'s stored order (events/event-schema.ts storedEvent), so a rebuilt body reads the same. */
const STRING_FIELDS = ["eventId", "type", "userId", "sessionId", "itemId", "category", "decisionId"] as const;
const PER_EVENT = STRING_FIELDS.length;

export function toWireOp(op: LogOp): WireOp {
  return op.kind === "events" ? { kind: "eventColumns", columns: toColumns(op.events) } : op;
}

export function fromWireOp(op: WireOp): LogOp {
  return op.kind === "eventColumns" ? { kind: "events", events: fromColumns(op.columns) } : op;
}

export function toColumns(events: readonly UserEvent[]): EventColumns {
  const n = events.length;
  const parts: string[] = [];
  const lengths = new Int32Array(n * PER_EVENT);
  const timestamp = new Float64Array(n);
  const columns: EventColumns = { n, text: "", lengths, timestamp };
  for (let i = 0; i < n; i++) {
    const e = events[i] as UserEvent;
    const at = i * PER_EVENT;
    // Spelled out, not a loop over STRING_FIELDS: each read stays a monomorphic named load.
    putString(parts, lengths, at, e.eventId);
    putString(parts, lengths, at + 1, e.type);
    putString(parts, lengths, at + 2, e.userId);
    putString(parts, lengths, at + 3, e.sessionId);
    putString(parts, lengths, at + 4, e.itemId);
    putString(parts, lengths, at + 5, e.category);
    putString(parts, lengths, at + 6, e.decisionId);
    timestamp[i] = e.timestamp;
    if (e.price !== undefined || e.value !== undefined) {
      columns.numbers ??= new Float64Array(n * 2).fill(Number.NaN);
      columns.numbers[2 * i] = e.price ?? Number.NaN;
      columns.numbers[2 * i + 1] = e.value ?? Number.NaN;
    }
    if (e.context !== undefined) {
      // Filled, not holey: a dense array clones compactly.
      columns.context ??= new Array(n).fill(undefined);
      columns.context[i] = e.context;
    }
  }
  // One flat string (join builds it flat), cloned as one copy.
  columns.text = parts.join("");
  return columns;
}

/** A module function, not a closure per batch (the build names every closure it makes: a call each). */
function putString(parts: string[], lengths: Int32Array, slot: number, s: string | undefined): void {
  if (s === undefined) lengths[slot] = -1;
  else {
    lengths[slot] = s.length;
    parts.push(s);
  }
}

/** Reads the strings of `EventColumns.text` in order. */
class StringCursor {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly lengths: Int32Array,
  ) {}

  take(slot: number): string | undefined {
    const length = this.lengths[slot] as number;
    if (length < 0) return undefined;
    this.pos += length;
    return this.text.slice(this.pos - length, this.pos);
  }
}

export function fromColumns(c: EventColumns): UserEvent[] {
  const { n, timestamp, numbers, context } = c;
  const events = new Array<UserEvent>(n);
  const strings = new StringCursor(c.text, c.lengths);
  for (let i = 0; i < n; i++) {
    const at = i * PER_EVENT;
    const e: UserEvent = {
      eventId: strings.take(at) as string,
      type: strings.take(at + 1) as string,
      userId: strings.take(at + 2) as string,
      timestamp: timestamp[i] as number,
    };
    const sessionId = strings.take(at + 3);
    const itemId = strings.take(at + 4);
    const category = strings.take(at + 5);
    const decisionId = strings.take(at + 6);
    // In storedEvent's order: sessionId, itemId, category, price, value, decisionId, context.
    if (sessionId !== undefined) e.sessionId = sessionId;
    if (itemId !== undefined) e.itemId = itemId;
    if (category !== undefined) e.category = category;
    if (numbers) {
      const price = numbers[2 * i] as number;
      const value = numbers[2 * i + 1] as number;
      if (!Number.isNaN(price)) e.price = price;
      if (!Number.isNaN(value)) e.value = value;
    }
    if (decisionId !== undefined) e.decisionId = decisionId;
    const ctx = context?.[i];
    if (ctx !== undefined) e.context = ctx;
    events[i] = e;
  }
  return events;
}
