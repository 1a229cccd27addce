import type { FeatureMap, UserEvent } from "../../core/types.js";
import type { LogOp } from "./log-ops.js";

/**
 * An `events` op as it crosses to the log writer's thread: one array per field instead of one object per
 * event. A structured clone writes every object's property names again and rebuilds each object on the
 * other side; columns clone as a few flat arrays (timestamps as one Float64Array), about half the main
 * thread's cost per batch of 100 and a fifth of the writer's to receive it (issue 12: the clone was 7 % of
 * the main thread under a batches-of-100 load). The writer thread rebuilds the events (`fromWireOp`), which
 * it stringifies anyway for the log's body column.
 *
 * Only the fields of `UserEvent` cross (the event schema is strict, so a validated event has no others);
 * an optional field's column exists only when some event of the batch has it.
 */
export interface EventColumns {
  eventId: string[];
  type: string[];
  userId: string[];
  timestamp: Float64Array;
  sessionId?: (string | undefined)[];
  itemId?: (string | undefined)[];
  category?: (string | undefined)[];
  price?: (number | undefined)[];
  value?: (number | undefined)[];
  decisionId?: (string | undefined)[];
  context?: (FeatureMap | undefined)[];
}

/** What the writer's thread receives: every op as it is, except events as columns. */
export type WireOp = Exclude<LogOp, { kind: "events" }> | { kind: "eventColumns"; columns: EventColumns };

type OptionalField = Exclude<keyof EventColumns, "eventId" | "type" | "userId" | "timestamp">;
/** In `UserEvent`'s stored order (events/event-schema.ts storedEvent), so a rebuilt body reads the same. */
const OPTIONAL_FIELDS: readonly OptionalField[] = [
  "sessionId",
  "itemId",
  "category",
  "price",
  "value",
  "decisionId",
  "context",
];

export function toWireOp(op: LogOp): WireOp {
  return op.kind === "events" ? { kind: "eventColumns", columns: toColumns(op.events) } : op;
}

export function fromWireOp(op: WireOp): LogOp {
  return op.kind === "eventColumns" ? { kind: "events", events: fromColumns(op.columns) } : op;
}

export function toColumns(events: readonly UserEvent[]): EventColumns {
  const n = events.length;
  const columns: EventColumns = {
    eventId: new Array<string>(n),
    type: new Array<string>(n),
    userId: new Array<string>(n),
    timestamp: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const e = events[i] as UserEvent;
    columns.eventId[i] = e.eventId;
    columns.type[i] = e.type;
    columns.userId[i] = e.userId;
    columns.timestamp[i] = e.timestamp;
    // Spelled out, not a loop over OPTIONAL_FIELDS: each read stays a monomorphic named load.
    if (e.sessionId !== undefined) columnOf(columns, "sessionId", n)[i] = e.sessionId;
    if (e.itemId !== undefined) columnOf(columns, "itemId", n)[i] = e.itemId;
    if (e.category !== undefined) columnOf(columns, "category", n)[i] = e.category;
    if (e.price !== undefined) columnOf(columns, "price", n)[i] = e.price;
    if (e.value !== undefined) columnOf(columns, "value", n)[i] = e.value;
    if (e.decisionId !== undefined) columnOf(columns, "decisionId", n)[i] = e.decisionId;
    if (e.context !== undefined) columnOf(columns, "context", n)[i] = e.context;
  }
  return columns;
}

/** An optional field's column, made at its first use: undefined where an event lacks the field. */
function columnOf<K extends OptionalField>(columns: EventColumns, field: K, n: number): unknown[] {
  // Filled, not holey: a dense array clones compactly.
  columns[field] ??= new Array(n).fill(undefined);
  return columns[field] as unknown[];
}

export function fromColumns(c: EventColumns): UserEvent[] {
  const n = c.eventId.length;
  const present = OPTIONAL_FIELDS.filter((f) => c[f] !== undefined);
  const events = new Array<UserEvent>(n);
  for (let i = 0; i < n; i++) {
    const e: UserEvent = {
      eventId: c.eventId[i] as string,
      type: c.type[i] as string,
      userId: c.userId[i] as string,
      timestamp: c.timestamp[i] as number,
    };
    for (const field of present) {
      const v = (c[field] as unknown[])[i];
      if (v !== undefined) (e as unknown as Record<string, unknown>)[field] = v;
    }
    events[i] = e;
  }
  return events;
}
