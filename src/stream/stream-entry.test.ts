import { describe, expect, it } from "vitest";
import { decodeEntry, encodeEntry, partitionKey, partitionOf, type StreamEntry } from "./stream-entry.js";
import { decisionEntries } from "./stream-fixtures.js";
import { StreamPositions } from "./stream-positions.js";

describe("stream entries", () => {
  it("round-trips every kind through bytes, the decision record byte for byte", () => {
    for (const entry of decisionEntries("codec", Date.UTC(2026, 0, 1), 1000)) {
      const bytes = encodeEntry(entry);
      expect(decodeEntry(bytes)).toEqual(entry);
      expect(decodeEntry(new Uint8Array(bytes))).toEqual(entry); // not only from a Buffer
    }
  });

  it("gives a decoded decision bytes of its own, not a view of the message", () => {
    const [decision] = decisionEntries("own", 1, 16);
    const wire = encodeEntry(decision!);
    const decoded = decodeEntry(wire) as Extract<StreamEntry, { kind: "decision" }>;
    wire.fill(0);
    expect(decoded.decision.bytes).toEqual((decision as typeof decoded).decision.bytes);
    expect(decoded.decision.bytes.byteOffset).toBe(0);
  });

  it("refuses bytes of an unknown kind", () => {
    const bytes = encodeEntry(decisionEntries("x", 1)[2]!);
    bytes[0] = 99;
    expect(() => decodeEntry(bytes)).toThrow(/unknown stream entry kind/);
  });

  it("keys every entry of a decision by its id, and an event without one by its user", () => {
    expect(new Set(decisionEntries("k1", 1).map(partitionKey))).toEqual(new Set(["k1"]));
    const loose: StreamEntry = { kind: "event", event: { eventId: "e", type: "view", userId: "u9", timestamp: 1 } };
    expect(partitionKey(loose)).toBe("user:u9");
    for (let i = 0; i < 100; i++) {
      const p = partitionOf(`d${i}`, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
      expect(partitionOf(`d${i}`, 7)).toBe(p);
    }
  });
});

describe("stream positions", () => {
  it("skips what is at or before the saved position and only moves forward", () => {
    const positions = new StreamPositions({ 0: "100-5" });
    expect(positions.isNew({ partition: 0, id: "100-5" })).toBe(false);
    expect(positions.isNew({ partition: 0, id: "99-9" })).toBe(false);
    expect(positions.isNew({ partition: 0, id: "100-6" })).toBe(true);
    expect(positions.isNew({ partition: 1, id: "1-0" })).toBe(true);
    positions.advance({ partition: 0, id: "101-0" });
    positions.advance({ partition: 0, id: "100-7" });
    expect(positions.toJSON()).toEqual({ 0: "101-0" });
    expect(positions.positionOf(0)).toBe("101-0");
    expect(positions.isNew({ partition: 0, id: "1000-0" })).toBe(true); // numeric, not string order
  });
});
