import { describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { rngFor } from "../../core/rng.js";
import { EventQueue, runFast } from "./scheduler.js";

describe("EventQueue", () => {
  it("pops in time order, ties in insertion order", () => {
    const q = new EventQueue();
    const rng = rngFor("t", "q");
    const times = Array.from({ length: 500 }, () => Math.floor(rng.next() * 50));
    for (const t of times) q.push(t, () => undefined);
    const out: { at: number; seq: number }[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push({ at: e.at, seq: e.seq });
    expect(out).toHaveLength(500);
    for (let i = 1; i < out.length; i++) {
      const a = out[i - 1]!;
      const b = out[i]!;
      expect(a.at < b.at || (a.at === b.at && a.seq < b.seq)).toBe(true);
    }
  });
});

describe("runFast", () => {
  it("moves the clock to each action, runs follow-ups, and stops at the horizon", async () => {
    const clock = new ManualClock(1000);
    const q = new EventQueue();
    const seen: number[] = [];
    q.push(1500, () => {
      seen.push(clock.now());
      q.push(clock.now() + 100, () => void seen.push(clock.now()));
    });
    q.push(1200, async () => void seen.push(clock.now()));
    q.push(5000, () => void seen.push(clock.now()));
    await runFast(q, clock, 3000);
    expect(seen).toEqual([1200, 1500, 1600]);
    expect(clock.now()).toBe(3000);
    expect(q.size).toBe(1);
  });
});
