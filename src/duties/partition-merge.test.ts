import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import { partitionKey, partitionOf } from "../stream/stream-entry.js";
import { StreamPositions } from "../stream/stream-positions.js";
import { learnerStream } from "./learner-fixtures.js";
import { mergeTime, PartitionMerge } from "./partition-merge.js";

const T = Date.UTC(2026, 2, 2, 10);
const GROUP = "learner:p";

/** Every entry `merge` delivers until it is caught up, as partition/id. */
async function drainIds(merge: PartitionMerge, now?: number): Promise<string[]> {
  merge.beginStep(now);
  const ids: string[] = [];
  for (let d = await merge.next(); d; d = await merge.next()) ids.push(`${d.partition}/${d.id}`);
  return ids;
}

const totalLength = async (stream: DecisionStream) => {
  let n = 0;
  for (let p = 0; p < stream.partitions; p++) n += await stream.length(p);
  return n;
};

describe("PartitionMerge: reading by position", () => {
  it("a holder frozen mid-step that reads after the takeover takes nothing from the new holder", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2, clock: new ManualClock(T) });
    const entries = learnerStream({ policyId: "p", decisions: 60, windowMs: 60_000, start: T });
    const half = Math.floor(entries.length / 2);
    await stream.append(entries.slice(0, half));
    await stream.ensureGroup(GROUP, "start");
    const oldPositions = new StreamPositions();
    const old = new PartitionMerge(stream, GROUP, "old", oldPositions, 40);
    const appliedByOld = await drainIds(old);
    expect(appliedByOld).toHaveLength(half);
    // The old holder's checkpoint held its positions; then it froze. The new holder restores them.
    const heir = new PartitionMerge(stream, GROUP, "heir", new StreamPositions(oldPositions.toJSON()), 40);
    await heir.releasePending();
    await stream.append(entries.slice(half)); // traffic while the old holder is frozen
    // The old holder wakes inside its step and reads on (its fenced checkpoint will be refused afterwards).
    expect(await drainIds(old)).toHaveLength(entries.length - half);
    // The new holder still gets every entry after the checkpoint, each once.
    const takenByHeir = await drainIds(heir);
    expect(takenByHeir).toHaveLength(entries.length - half);
    expect(new Set([...appliedByOld, ...takenByHeir]).size).toBe(entries.length);
  });

  it("commits positions as the group's retention marker: trim drops what the checkpoint holds, nothing after", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2, clock: new ManualClock(T) });
    await stream.ensureGroup(GROUP, "start");
    await stream.append(learnerStream({ policyId: "p", decisions: 30, windowMs: 60_000, start: T }));
    const total = await totalLength(stream);
    const positions = new StreamPositions();
    const merge = new PartitionMerge(stream, GROUP, "w", positions, 1000);
    merge.beginStep();
    for (let i = 0; i < 10; i++) await merge.next(); // 10 entries applied and checkpointed
    for (let p = 0; p < stream.partitions; p++) await stream.trim(p);
    expect(await totalLength(stream)).toBe(total); // nothing committed yet: everything kept
    expect(await merge.commitPositions()).toBeGreaterThan(0);
    for (let p = 0; p < stream.partitions; p++) await stream.trim(p);
    expect(await totalLength(stream)).toBe(total - 10);
    // A holder restored from those positions reads exactly the rest.
    const heir = new PartitionMerge(stream, GROUP, "heir", new StreamPositions(positions.toJSON()), 7);
    expect(await drainIds(heir)).toHaveLength(total - 10);
  });

  it("empties a pending list left by a holder that read through the group, so it never holds trimming back", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2, clock: new ManualClock(T) });
    await stream.append(learnerStream({ policyId: "p", decisions: 120, windowMs: 60_000, start: T }));
    await stream.ensureGroup(GROUP, "start");
    for (let p = 0; p < 2; p++) await stream.read(GROUP, "earlier-version", p, { count: 1000 });
    expect((await stream.pendingCount(GROUP, 0)) + (await stream.pendingCount(GROUP, 1))).toBe(
      await totalLength(stream),
    );
    const merge = new PartitionMerge(stream, GROUP, "w", new StreamPositions(), 40);
    await merge.releasePending();
    expect([await stream.pendingCount(GROUP, 0), await stream.pendingCount(GROUP, 1)]).toEqual([0, 0]);
    expect(await drainIds(merge)).toHaveLength(await totalLength(stream)); // read by position all the same
  });

  it("with settleMs, waits for a partition read empty until the head's time settled; not while every partition has a head", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2, clock: new ManualClock(T) });
    const entries = learnerStream({ policyId: "p", decisions: 40, windowMs: 60_000, start: T });
    const onPartition = (p: number) => entries.filter((e) => partitionOf(partitionKey(e), 2) === p);
    await stream.append(onPartition(0)); // partition 1's node has not appended yet
    const merge = new PartitionMerge(stream, GROUP, "w", new StreamPositions(), 1000, 1_000);
    const first = mergeTime({ id: `${T}-0`, entry: onPartition(0)[0]! });
    merge.beginStep(first + 999); // partition 1 is empty and the head is younger than settleMs
    expect(await merge.next()).toBeUndefined();
    expect(merge.idle).toBe(false); // waiting, not caught up: the duty does not close windows on the clock
    merge.beginStep(first + 1_000);
    expect((await merge.next())?.entry).toBe(onPartition(0)[0]);
    await stream.append(onPartition(1)); // now both have heads: nothing waits, whatever the time
    merge.beginStep(Number.NEGATIVE_INFINITY);
    const both = await drainIds(merge, Number.NEGATIVE_INFINITY);
    expect(both.length).toBeGreaterThan(0);
    expect(new Set(both.map((id) => id.split("/")[0]))).toEqual(new Set(["0", "1"]));
  });

  it("orders across partitions by server time; an event by its client's time, never later than its append", () => {
    const event = (timestamp: number) => ({
      kind: "event" as const,
      event: { eventId: "e", type: "click", userId: "u", timestamp } as never,
    });
    expect(mergeTime({ id: `${T}-3`, entry: event(T + 240_000) })).toBe(T);
    expect(mergeTime({ id: `${T}-3`, entry: event(T - 2_000) })).toBe(T - 2_000);
    const reward = { rewardId: "r", decisionId: "d", value: 1, timestamp: T - 5, receivedAt: T + 7 } as never;
    expect(mergeTime({ id: `${T + 99}-0`, entry: { kind: "reward", reward, windowMs: 60_000 } })).toBe(T + 7);
  });
});
