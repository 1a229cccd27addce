import { setImmediate as nextTurn } from "node:timers/promises";
import type { UserEvent } from "../core/types.js";
import type { SessionSequence } from "./session-dataset.js";

export interface SessionsFromEventsOptions {
  /** Event types that count as an item interaction (default: view and click). */
  types?: ReadonlySet<string>;
  /** A user's session also ends after this much inactivity, ms (default 30 min, the feature store's). */
  inactivityGap?: number;
  /** Sessions shorter than this are dropped (a single click teaches no transition; default 2). */
  minLength?: number;
}

const DEFAULT_TYPES: ReadonlySet<string> = new Set(["view", "click"]);

/**
 * Training sessions from an event log scan (`EventLog.scan()`, timestamp order): per user, runs of view/click
 * events with an item, oldest first, ended by a sessionId change or 30 minutes without events. It yields to the event loop after every batch, so a retrain reading a big log
 * leaves room for requests.
 */
export async function sessionsFromEvents(
  batches: AsyncIterable<readonly UserEvent[]> | Iterable<readonly UserEvent[]>,
  options: SessionsFromEventsOptions = {},
): Promise<SessionSequence[]> {
  const types = options.types ?? DEFAULT_TYPES;
  const gap = options.inactivityGap ?? 30 * 60_000;
  const minLength = options.minLength ?? 2;
  // Per user, the session being built: a sessionId change or an inactivity gap ends it, as in the feature
  // store (features-config sessionGap), so training sessions match the sessions served at request time.
  const open = new Map<string, { id: string; sessionId: string | undefined; items: string[]; end: number }>();
  const all: { id: string; items: string[]; end: number }[] = [];
  for await (const batch of batches) {
    for (const e of batch) {
      if (e.itemId === undefined || !types.has(e.type)) continue;
      let s = open.get(e.userId);
      if (s && (s.sessionId !== e.sessionId || e.timestamp - s.end > gap)) s = undefined;
      if (!s) {
        const id = `${e.userId}\u0000${e.sessionId ?? ""}\u0000${e.timestamp}`;
        s = { id, sessionId: e.sessionId, items: [], end: e.timestamp };
        open.set(e.userId, s);
        all.push(s);
      }
      s.items.push(e.itemId);
      if (e.timestamp > s.end) s.end = e.timestamp;
    }
    await nextTurn();
  }
  return all.filter((s) => s.items.length >= minLength);
}
