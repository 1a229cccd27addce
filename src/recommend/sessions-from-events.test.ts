import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import type { EventLog } from "../events/event-log.js";
import { sessionsFromEvents } from "./sessions-from-events.js";
import { trainFromEventLog } from "./train-from-log.js";

let n = 0;
const ev = (
  userId: string,
  itemId: string | undefined,
  timestamp: number,
  extra: Partial<UserEvent> = {},
): UserEvent => ({
  eventId: `e${n++}`,
  type: "view",
  userId,
  timestamp,
  ...(itemId !== undefined ? { itemId } : {}),
  ...extra,
});

/** A tiny in-memory EventLog (timestamp order, batches of 2) to train from, as the app's log would serve. */
function memoryLog(events: UserEvent[]): EventLog {
  const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp);
  return {
    append: async () => ({ inserted: [], duplicates: [] }),
    async *scan(o = {}) {
      const from = o.from ?? Number.NEGATIVE_INFINITY;
      const list = sorted.filter((e) => e.timestamp >= from);
      for (let k = 0; k < list.length; k += 2) yield list.slice(k, k + 2);
    },
    count: async () => sorted.length,
    close: async () => {},
  };
}

describe("sessionsFromEvents", () => {
  it("groups view/click item events by (user, session), oldest first, dropping one-item sessions", async () => {
    const events = [
      ev("u1", "a", 1, { sessionId: "s1" }),
      ev("u2", "x", 2, { sessionId: "s1" }),
      ev("u1", "b", 3, { sessionId: "s1", type: "click" }),
      ev("u1", "c", 4, { sessionId: "s1", type: "purchase" }),
      ev("u1", undefined, 5, { sessionId: "s1" }),
      ev("u2", "y", 6, { sessionId: "s1" }),
      ev("u3", "solo", 7, { sessionId: "s9" }),
    ];
    const sessions = await sessionsFromEvents([events]);
    expect(sessions.map((s) => [s.items.join(""), s.end])).toEqual([
      ["ab", 3],
      ["xy", 6],
    ]);
  });

  it("ends a session when the sessionId changes", async () => {
    const events = [
      ev("u", "a", 1, { sessionId: "1" }),
      ev("u", "b", 2, { sessionId: "1" }),
      ev("u", "c", 3, { sessionId: "2" }),
    ];
    events.push(ev("u", "d", 4, { sessionId: "2" }));
    const sessions = await sessionsFromEvents([events]);
    expect(sessions.map((s) => s.items.join(""))).toEqual(["ab", "cd"]);
  });

  it("splits a user's events after the inactivity gap", async () => {
    const min = 60_000;
    const events = [ev("u", "a", 0), ev("u", "b", 10 * min), ev("u", "c", 50 * min), ev("u", "d", 55 * min)];
    const sessions = await sessionsFromEvents([events], { inactivityGap: 30 * min });
    expect(sessions.map((s) => s.items.join(""))).toEqual(["ab", "cd"]);
  });
});

describe("trainFromEventLog", () => {
  it("trains the named model from the log's sessions", async () => {
    const events: UserEvent[] = [];
    for (let u = 0; u < 20; u++) {
      events.push(
        ev(`u${u}`, "p", u * 100, { sessionId: "s" }),
        ev(`u${u}`, u % 2 ? "q" : "r", u * 100 + 1, { sessionId: "s" }),
      );
    }
    const clock = new ManualClock(123_000);
    const model = await trainFromEventLog(memoryLog(events), { model: "vsknn", clock });
    expect(model.name).toBe("vsknn");
    expect(model.trainedAt).toBe(123_000);
    expect([...model.vocab.itemIds].sort()).toEqual(["p", "q", "r"]);
    expect(
      model
        .recommend(["p"], 2, { exclude: new Set(["p"]) })
        .items.map((r) => r.id)
        .sort(),
    ).toEqual(["q", "r"]);
  });

  it("refuses to train on a log with no usable session", async () => {
    await expect(trainFromEventLog(memoryLog([ev("u", "a", 1)]))).rejects.toThrow(/nothing to train on/);
  });
});
