import { describe, expect, it } from "vitest";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import { StreamPositions } from "../stream/stream-positions.js";
import { learnerStream } from "./learner-fixtures.js";
import { PartitionMerge } from "./learner-merge.js";

const T = Date.UTC(2026, 2, 2, 10);

/** Every entry `merge` delivers until it is caught up, by id. */
async function drainIds(merge: PartitionMerge): Promise<string[]> {
  merge.beginStep();
  const ids: string[] = [];
  for (let d = await merge.next(); d; d = await merge.next()) ids.push(d.id);
  return ids;
}

describe("PartitionMerge: a new holder takes over the pending entries", () => {
  it("claims every pending entry once, also with more pending in a partition than one read's batch", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2 });
    await stream.append(learnerStream({ policyId: "p", decisions: 120, windowMs: 60_000, start: T }));
    await stream.ensureGroup("learner:p", "start");
    // The old holder read everything (in batches of 40) and died before acking any of it.
    const old = new PartitionMerge(stream, "learner:p", "old", new StreamPositions(), 40);
    const readByOld = await drainIds(old);
    const pending = (await stream.pendingCount("learner:p", 0)) + (await stream.pendingCount("learner:p", 1));
    expect(pending).toBe(readByOld.length);
    expect(
      Math.min(await stream.pendingCount("learner:p", 0), await stream.pendingCount("learner:p", 1)),
    ).toBeGreaterThan(40);

    // A claim that keeps returning the same head of the pending list would loop forever: count the claims.
    let claims = 0;
    const counted: DecisionStream = Object.assign(Object.create(stream) as DecisionStream, {
      claim: (...args: Parameters<DecisionStream["claim"]>) => {
        if (++claims > 10) throw new Error("claimPending keeps claiming the same entries");
        return stream.claim(...args);
      },
    });
    const heir = new PartitionMerge(counted, "learner:p", "heir", new StreamPositions(), 40);
    await heir.claimPending();
    const taken = await drainIds(heir);
    expect(taken).toHaveLength(readByOld.length);
    expect(new Set(taken)).toEqual(new Set(readByOld));
  });
});
