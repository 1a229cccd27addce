import { describe, expect, it } from "vitest";
import { SessionTable } from "./minute-sessions.js";

describe("the fold's session table", () => {
  it("keeps every session's state through growth and slot reuse, in the order sessions started", () => {
    const table = new SessionTable();
    for (let i = 0; i < 3000; i++) {
      const slot = table.open(`k${i}`, `u${i}`, 1000 + i);
      table.addSeries(slot, `policy:p${i % 3}`, 60_000 * i);
      if (i % 5 === 0) table.addSeries(slot, "rollout:r:candidate", 60_000 * i);
    }
    for (let i = 1; i < 3000; i += 2) table.delete(`k${i}`);
    for (let i = 3000; i < 4500; i++) table.open(`k${i}`, `u${i}`, 1000 + i); // reuses the freed slots
    expect(table.size).toBe(3000);
    expect(table.oldest()).toBe("k0");
    const keys = [...table.keys()];
    expect(keys.slice(0, 3)).toEqual(["k0", "k2", "k4"]);
    expect(keys.at(-1)).toBe("k4499");
    for (const i of [0, 10, 2998]) {
      const slot = table.slotOf(`k${i}`)!;
      expect(table.userIdOf(slot)).toBe(`u${i}`);
      expect(table.lastSeenOf(slot)).toBe(1000 + i);
      const series = [{ series: `policy:p${i % 3}`, minute: 60_000 * i, revenue: 0, purchased: false }];
      if (i % 5 === 0) series.push({ series: "rollout:r:candidate", minute: 60_000 * i, revenue: 0, purchased: false });
      expect(table.seriesOf(slot)).toEqual(series);
    }
    expect(table.seriesOf(table.slotOf("k4000")!)).toEqual([]); // a reused slot starts clean
  });

  it("adds a purchase to every series of the session and says which purchase is each one's first", () => {
    const table = new SessionTable();
    const slot = table.open("k", "u", 0);
    table.addSeries(slot, "policy:p", 0);
    table.addSeries(slot, "rollout:r:control", 60_000);
    expect(table.hasSeries(slot, "rollout:r:control")).toBe(true);
    expect(table.hasSeries(slot, "policy:q")).toBe(false);
    const seen: [string, number, number, boolean][] = [];
    table.purchase(slot, 5, (...args) => seen.push(args));
    table.purchase(slot, 2, (...args) => seen.push(args));
    expect(seen).toEqual([
      ["policy:p", 0, 0, true],
      ["rollout:r:control", 60_000, 0, true],
      ["policy:p", 0, 5, false],
      ["rollout:r:control", 60_000, 5, false],
    ]);
    table.set("k", "u", 9, [{ series: "policy:q", minute: 0, revenue: 1, purchased: true }]);
    expect(table.seriesOf(slot)).toEqual([{ series: "policy:q", minute: 0, revenue: 1, purchased: true }]);
    expect(table.lastSeenOf(slot)).toBe(9);
  });
});
