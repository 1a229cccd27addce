import { afterEach, describe, expect, it } from "vitest";
import type { DecisionStream, DeliveredEntry } from "./decision-stream.js";
import { partitionKey, partitionOf } from "./stream-entry.js";
import { decisionEntries } from "./stream-fixtures.js";
import { StreamPositions } from "./stream-positions.js";

/**
 * The one contract every DecisionStream adapter passes (DESIGN.md: one suite per port). Run from
 * `storage/memory/decision-stream-memory.test.ts` and `storage/redis/decision-stream-redis.test.ts` (single
 * node and Cluster). `advance(ms)` lets at least `ms` of the adapter's clock pass (a manual clock in memory,
 * real waiting on Redis), so idle-time claims are tested without asserting any timing.
 */
export interface StreamUnderTest {
  stream: DecisionStream;
  advance(ms: number): Promise<void>;
}

export type StreamFactory = (partitions: number) => Promise<StreamUnderTest>;

const T = Date.UTC(2026, 2, 2, 10);

export function decisionStreamContract(name: string, factory: StreamFactory): void {
  describe(`DecisionStream contract: ${name}`, () => {
    const opened: DecisionStream[] = [];
    const open = async (partitions = 4): Promise<StreamUnderTest> => {
      const s = await factory(partitions);
      opened.push(s.stream);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it("keeps one decision's entries in one partition, in append order, bytes intact", async () => {
      const { stream } = await open();
      const entries = ["d1", "d2", "d3"].flatMap((d, i) => decisionEntries(d, T + i, 300));
      const appended = await stream.append(entries);
      expect(appended).toHaveLength(entries.length);
      for (const d of ["d1", "d2", "d3"]) {
        const mine = appended.filter((_, i) => partitionKey(entries[i]!) === d);
        expect(new Set(mine.map((a) => a.partition)).size).toBe(1);
        expect(mine[0]!.partition).toBe(partitionOf(d, 4));
      }
      const p = partitionOf("d2", 4);
      const stored = await stream.range(p, undefined, 100);
      const d2 = stored.filter((s) => partitionKey(s.entry) === "d2").map((s) => s.entry);
      expect(d2).toEqual(decisionEntries("d2", T + 1, 300));
      const ids = stored.map((s) => s.id);
      expect([...ids].sort(byId)).toEqual(ids);
    });

    it("spreads decisions over every partition", async () => {
      const { stream } = await open(4);
      const appended = await stream.append(
        Array.from({ length: 200 }, (_, i) => decisionEntries(`spread-${i}`, T)[0]!),
      );
      expect(new Set(appended.map((a) => a.partition))).toEqual(new Set([0, 1, 2, 3]));
    });

    it("delivers each entry once to a group's consumers and keeps it pending until acked", async () => {
      const { stream } = await open(1);
      await stream.ensureGroup("log");
      await stream.append(["a", "b", "c"].flatMap((d) => decisionEntries(d, T)));
      const first = await stream.read("log", "c1", 0, { count: 6 });
      const second = await stream.read("log", "c2", 0, { count: 100 });
      expect(first).toHaveLength(6);
      expect(second).toHaveLength(9);
      expect(new Set([...first, ...second].map((e) => e.id)).size).toBe(15);
      expect(first.every((e) => e.deliveries === 1)).toBe(true);
      expect(await stream.pendingCount("log", 0)).toBe(15);
      expect(
        await stream.ack(
          "log",
          0,
          first.map((e) => e.id),
        ),
      ).toBe(6);
      expect(
        await stream.ack(
          "log",
          0,
          first.map((e) => e.id),
        ),
      ).toBe(0);
      expect(await stream.pendingCount("log", 0)).toBe(9);
      expect(await stream.read("log", "c1", 0)).toEqual([]);
    });

    it("gives every group the whole stream, independently", async () => {
      const { stream } = await open(2);
      await stream.ensureGroup("log");
      await stream.ensureGroup("join");
      await stream.ensureGroup("join"); // idempotent
      const appended = await stream.append(decisionEntries("g1", T));
      const p = appended[0]!.partition;
      expect(await stream.read("log", "x", p)).toHaveLength(5);
      expect(await stream.read("join", "y", p)).toHaveLength(5);
    });

    it("starts a group at the end, or at the retained start when asked", async () => {
      const { stream } = await open(1);
      await stream.append(decisionEntries("old", T));
      await stream.ensureGroup("late");
      await stream.ensureGroup("replayer", "start");
      await stream.append(decisionEntries("new", T + 1));
      expect((await stream.read("late", "c", 0)).map((e) => partitionKey(e.entry))).toEqual(Array(5).fill("new"));
      expect(await stream.read("replayer", "c", 0)).toHaveLength(10);
    });

    it("hands a dead consumer's pending entries to another after the idle time, counting deliveries", async () => {
      const { stream, advance } = await open(1);
      await stream.ensureGroup("learn");
      await stream.append(decisionEntries("claim-me", T));
      const held = await stream.read("learn", "dead", 0);
      expect(held).toHaveLength(5);
      await stream.ack("learn", 0, [held[0]!.id]);
      expect(await stream.claim("learn", "alive", 0, { minIdleMs: 60_000 })).toEqual([]);
      await advance(40);
      const claimed = await stream.claim("learn", "alive", 0, { minIdleMs: 20, count: 10 });
      expect(claimed.map((e) => e.id)).toEqual(held.slice(1).map((e) => e.id));
      expect(claimed.map((e) => e.entry)).toEqual(held.slice(1).map((e) => e.entry));
      expect(claimed.every((e) => e.deliveries === 2)).toBe(true);
      await stream.ack(
        "learn",
        0,
        claimed.map((e) => e.id),
      );
      expect(await stream.pendingCount("learn", 0)).toBe(0);
    });

    it("waits for an append in a blocking read", async () => {
      const { stream } = await open(1);
      await stream.ensureGroup("wait");
      const reading = stream.read("wait", "c", 0, { blockMs: 10_000 });
      await new Promise((r) => setTimeout(r, 20));
      await stream.append(decisionEntries("wake", T).slice(0, 1));
      const got = await reading;
      expect(got.map((e) => partitionKey(e.entry))).toEqual(["wake"]);
    });

    it("trims only what every group has acked, and nothing without a group", async () => {
      const { stream } = await open(1);
      await stream.append(decisionEntries("t1", T));
      expect(await stream.trim(0)).toBe(0);
      await stream.ensureGroup("a", "start");
      await stream.ensureGroup("b", "start");
      const a = await stream.read("a", "c", 0);
      await stream.ack(
        "a",
        0,
        a.map((e) => e.id),
      );
      const b = await stream.read("b", "c", 0, { count: 3 });
      await stream.ack("b", 0, [b[0]!.id, b[2]!.id]); // b[1] still pending in b
      expect(await stream.trim(0)).toBe(1);
      expect(await stream.length(0)).toBe(4);
      const left = await stream.range(0, undefined, 10);
      expect(left[0]!.id).toBe(b[1]!.id);
      await stream.ack("b", 0, [b[1]!.id]);
      expect(await stream.trim(0)).toBe(2); // b has not read the last two yet
      expect((await stream.read("b", "c", 0)).map((e) => e.id)).toEqual(a.slice(3).map((e) => e.id));
    });

    it("trims up to a group's committed position (a duty reading by id), and a commit may move back", async () => {
      const { stream } = await open(1);
      await stream.ensureGroup("duty", "start");
      await stream.append(decisionEntries("t2", T));
      const all = await stream.range(0, undefined, 10);
      expect(all.length).toBeGreaterThan(3);
      expect(await stream.trim(0)).toBe(0); // the marker is at the start
      await stream.commit("duty", 0, all[0]!.id);
      await stream.commit("duty", 0, all[2]!.id);
      await stream.commit("duty", 0, all[1]!.id); // back: keeps more, never less
      expect(await stream.trim(0)).toBe(2);
      expect((await stream.range(0, undefined, 10)).map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
      expect(await stream.pendingCount("duty", 0)).toBe(0);
    });

    it("replays from checkpointed positions without applying an entry twice", async () => {
      const { stream, advance } = await open(2);
      await stream.ensureGroup("learner");
      await stream.append(["r1", "r2", "r3", "r4"].flatMap((d) => decisionEntries(d, T)));
      const applied: string[] = [];
      const positions = new StreamPositions();
      const apply = (e: DeliveredEntry, into: StreamPositions): void => {
        if (!into.isNew(e)) return;
        applied.push(`${e.partition}/${e.id}`);
        into.advance(e);
      };
      for (let p = 0; p < 2; p++)
        for (const e of await stream.read("learner", "w1", p, { count: 3 })) apply(e, positions);
      const checkpoint = positions.toJSON(); // saved with the state; w1 then dies before acking anything
      const restored = new StreamPositions(JSON.parse(JSON.stringify(checkpoint)));
      await advance(40);
      for (let p = 0; p < 2; p++) {
        for (const e of await stream.claim("learner", "w2", p, { minIdleMs: 20 })) apply(e, restored);
        for (const e of await stream.read("learner", "w2", p)) apply(e, restored);
      }
      expect(applied).toHaveLength(20);
      expect(new Set(applied).size).toBe(20);
    });
  });
}

function byId(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am - bm || as - bs;
}
