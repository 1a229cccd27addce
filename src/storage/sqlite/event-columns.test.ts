import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { UserEvent } from "../../core/types.js";
import { fromColumns, fromWireOp, toColumns, toWireOp } from "./event-columns.js";

const id = fc.string({ minLength: 1, maxLength: 12 });
const userEvent: fc.Arbitrary<UserEvent> = fc.record(
  {
    eventId: id,
    type: fc.constantFrom("view", "click", "purchase", "wishlist_add"),
    userId: id,
    timestamp: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
    sessionId: id,
    itemId: id,
    category: fc.string({ maxLength: 8 }),
    price: fc.double({ min: 0, max: 1e9, noNaN: true }),
    value: fc.double({ min: -1e9, max: 1e9, noNaN: true }),
    decisionId: id,
    context: fc.dictionary(
      id,
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean()),
      {
        noNullPrototype: true,
      },
    ),
  },
  // Plain objects, as JSON.parse and literals make them (toStrictEqual compares prototypes).
  { requiredKeys: ["eventId", "type", "userId", "timestamp"], noNullPrototype: true },
);

describe("events as columns (the writer thread's wire format)", () => {
  it("gives back every event whole, with no field added or lost, after a structured clone", () => {
    fc.assert(
      fc.property(fc.array(userEvent, { maxLength: 30 }), (events) => {
        const received = structuredClone(toWireOp({ kind: "events", events }));
        expect(received.kind).toBe("eventColumns");
        const back = fromWireOp(received);
        expect(back.kind).toBe("events");
        const rebuilt = (back as { events: UserEvent[] }).events;
        // toStrictEqual: an absent field must stay absent (not present as undefined), so the stored body is equal.
        expect(rebuilt).toStrictEqual(events);
        expect(rebuilt.map((e) => JSON.stringify(e))).toEqual(events.map((e) => JSON.stringify(orderedLikeStored(e))));
      }),
      { numRuns: 200 },
    );
  });

  it("packs every string into one text, and numbers and contexts only when some event has them", () => {
    const columns = toColumns([
      { eventId: "a", type: "view", userId: "u", timestamp: 1 },
      { eventId: "b", type: "click", userId: "u\u0000v", timestamp: 2, itemId: "i" },
    ]);
    expect(Object.keys(columns).sort()).toEqual(["lengths", "n", "text", "timestamp"]);
    expect(columns.text).toBe("aviewubclicku\u0000vi");
    expect(fromColumns(columns)[0]).not.toHaveProperty("itemId");
    expect(fromColumns(columns)[1]).toEqual({
      eventId: "b",
      type: "click",
      userId: "u\u0000v",
      timestamp: 2,
      itemId: "i",
    });
    const priced = toColumns([
      { eventId: "a", type: "view", userId: "u", timestamp: 1 },
      { eventId: "b", type: "purchase", userId: "u", timestamp: 2, value: 0, context: { k: 1 } },
    ]);
    expect(Array.from(priced.numbers ?? [])).toEqual([Number.NaN, Number.NaN, Number.NaN, 0]);
    expect(priced.context).toEqual([undefined, { k: 1 }]);
    expect(fromColumns(priced)).toStrictEqual([
      { eventId: "a", type: "view", userId: "u", timestamp: 1 },
      { eventId: "b", type: "purchase", userId: "u", timestamp: 2, value: 0, context: { k: 1 } },
    ]);
  });

  it("passes every other op through unchanged", () => {
    const op = { kind: "activate" as const, decisionId: "d", at: 5 };
    expect(toWireOp(op)).toBe(op);
    expect(fromWireOp(op)).toBe(op);
  });
});

/** The key order the event schema stores (storedEvent), which the rebuilt events keep. */
function orderedLikeStored(e: UserEvent): UserEvent {
  const keys = ["eventId", "type", "userId", "timestamp", "sessionId", "itemId", "category", "price", "value"];
  const out: Record<string, unknown> = {};
  for (const k of [...keys, "decisionId", "context"]) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as unknown as UserEvent;
}
