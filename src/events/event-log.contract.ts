import { describe, expect, it } from "vitest";
import type { UserEvent } from "../core/types.js";
import type { EventLog } from "./event-log.js";

const ev = (i: number, userId = "u1", ts = 1000 + i): UserEvent => ({
  eventId: `e${i}`,
  type: "view",
  userId,
  timestamp: ts,
});

/** The one contract every EventLog adapter passes (run from storage/event-log.test.ts and the adapters' tests). */
export function eventLogContract(name: string, open: () => Promise<EventLog>): void {
  describe(`EventLog contract: ${name}`, () => {
    it("deduplicates by eventId, across and within batches", async () => {
      const log = await open();
      const first = await log.append([ev(1), ev(2)]);
      expect(first.inserted.map((e) => e.eventId)).toEqual(["e1", "e2"]);
      const second = await log.append([ev(2), ev(3), ev(3)]);
      expect(second.inserted.map((e) => e.eventId)).toEqual(["e3"]);
      expect(second.duplicates).toEqual(["e2", "e3"]);
      expect(await log.count()).toBe(3);
    });

    it("deduplicates concurrent appends of one event: exactly one inserts it", async () => {
      const log = await open();
      const results = await Promise.all([log.append([ev(7)]), log.append([ev(7), ev(8)]), log.append([ev(7)])]);
      expect(results.map((r) => r.inserted.map((e) => e.eventId))).toEqual([["e7"], ["e8"], []]);
      expect(await log.count()).toBe(2);
    });

    it("scans in timestamp order, by range and user, across pages", async () => {
      const log = await open();
      // Out of order on arrival, with ties on timestamp.
      await log.append([ev(5, "u1", 50), ev(1, "u2", 10), ev(3, "u1", 30), ev(4, "u1", 30), ev(2, "u2", 20)]);
      const all: string[] = [];
      for await (const batch of log.scan({ batchSize: 2 })) all.push(...batch.map((e) => e.eventId));
      expect(all).toEqual(["e1", "e2", "e3", "e4", "e5"]);
      const ranged: string[] = [];
      for await (const batch of log.scan({ from: 20, to: 50, userId: "u1", batchSize: 1 }))
        ranged.push(...batch.map((e) => e.eventId));
      expect(ranged).toEqual(["e3", "e4"]);
    });
  });
}
