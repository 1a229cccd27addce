import { describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { decisionStreamContract } from "../../stream/decision-stream.contract.js";
import { streamDeliveryProperty } from "../../stream/decision-stream.property.js";
import { decisionEntries } from "../../stream/stream-fixtures.js";
import { createMemoryDecisionStream } from "./decision-stream-memory.js";

decisionStreamContract("memory", async (partitions) => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2));
  return {
    stream: createMemoryDecisionStream({ partitions, clock }),
    advance: async (ms) => void clock.advance(ms),
  };
});

describe("memory decision stream", () => {
  streamDeliveryProperty(
    "memory",
    async (partitions) => ({ stream: createMemoryDecisionStream({ partitions }), advance: async () => {} }),
    200,
  );

  it("gives increasing ids within one millisecond", async () => {
    const stream = createMemoryDecisionStream({ partitions: 1, clock: new ManualClock(1000) });
    const ids = (await stream.append(decisionEntries("same-ms", 1000))).map((a) => a.id);
    expect(ids).toEqual(["1000-0", "1000-1", "1000-2", "1000-3", "1000-4"]);
  });
});
