import { describe, expect, it } from "vitest";
import { TrackedDecisions } from "./tracked-decisions.js";

describe("tracked decisions as columns", () => {
  it("keeps an existing id's position on set, moves it only after a delete, and reuses slots clean", () => {
    const t = new TrackedDecisions<string>();
    for (let i = 0; i < 2000; i++) t.set(`d${i}`, `p${i % 2}`, 1000 + i, `a\u001fb${i}`, `s${i}`);
    t.rewardedSlots(t.slotOf("d0")!).add(1);
    t.set("d0", "p9", 5, "x", "s", [0]); // a checkpoint's state: same place, new state
    expect(t.oldest()).toBe("d0");
    const d0 = t.slotOf("d0")!;
    expect([t.groupOf(d0), t.atOf(d0), t.slotItemsOf(d0), t.sessionOf(d0)]).toEqual(["p9", 5, "x", "s"]);
    expect([...(t.rewardedSlotsIfAny(d0) ?? [])]).toEqual([0]);
    t.delete("d1");
    t.set("d1", "p1", 7, "y");
    expect([...t.keys()].at(-1)).toBe("d1");
    expect(t.rewardedSlotsIfAny(t.slotOf("d1")!)).toBeUndefined();
    expect(t.sessionOf(t.slotOf("d1")!)).toBeUndefined();
    const d1999 = t.slotOf("d1999")!;
    expect([t.groupOf(d1999), t.atOf(d1999), t.slotItemsOf(d1999)]).toEqual(["p1", 2999, "a\u001fb1999"]);
    for (const id of [...t.keys()]) t.delete(id);
    expect(t.size).toBe(0);
  });
});
