import { describe, expect, it, vi } from "vitest";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "./policy-types.js";
import { decodeSnapshotBinary, encodeSnapshotBinary, isBinarySnapshot, joinParts } from "./snapshot-binary.js";
import { F64Field, snapshotJson } from "./snapshot-codec.js";

/** The default policy (hybrid: per-arm full covariances) after one update on each of `arms` items. */
function trained(arms: number) {
  const policy = createPolicy("binary", DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) {
    const input = { context: { hour: i % 24 }, candidates: [{ id: `item-${i}`, features: { price: i + 0.5 } }] };
    policy.update({ input, index: 0, position: 0, reward: i % 2, propensity: 0.5, placedBefore: [] });
  }
  return policy;
}

const input = {
  context: { hour: 3 },
  candidates: [{ id: "item-3", features: { price: 3.5 } }, { id: "item-7" }, { id: "new" }],
};

describe("binary policy snapshots (LWS 1)", () => {
  it("never builds an array's base64 (F64Field.toJSON) while encoding", () => {
    const snapshot = trained(5).snapshot();
    const toJSON = vi.spyOn(F64Field.prototype, "toJSON");
    try {
      const [bytes] = encodeSnapshotBinary(snapshot);
      expect(toJSON).not.toHaveBeenCalled();
      expect(snapshotJson(decodeSnapshotBinary(bytes!))).toBe(snapshotJson(snapshot));
    } finally {
      toJSON.mockRestore();
    }
  });

  it("gives back the same snapshot bit for bit (its JSON equal) and a policy that answers alike", () => {
    const policy = trained(20);
    const snapshot = policy.snapshot();
    const json = JSON.stringify(snapshot);
    const [bytes, ...more] = encodeSnapshotBinary(snapshot);
    expect(more).toEqual([]);
    expect(isBinarySnapshot(bytes!)).toBe(true);
    const decoded = decodeSnapshotBinary(bytes!);
    // snapshotJson writes each array as base64 of its full form: equal text means equal doubles, every bit.
    expect(snapshotJson(decoded)).toBe(json);
    const restored = restorePolicy(decoded as ReturnType<typeof policy.snapshot>);
    expect(Array.from(restored.distribution(input))).toEqual(Array.from(policy.distribution(input)));
    expect(Array.from(restored.distribution(input))).toEqual(
      Array.from(restorePolicy(JSON.parse(json)).distribution(input)),
    );
  });

  it("stores symmetric matrices packed and raw: about half the JSON's bytes for the default policy", () => {
    const snapshot = trained(40).snapshot();
    const binary = encodeSnapshotBinary(snapshot)[0]!.length;
    const json = Buffer.byteLength(JSON.stringify(snapshot));
    // Per arm: 64·65/2 + 64 doubles raw against (64² + 64)·8·4/3 bytes of base64, plus the shared model.
    expect(binary / json).toBeLessThan(0.45);
  });

  it("cuts into parts of at most the size asked, each owning its buffer, that join into the snapshot", () => {
    const snapshot = trained(5).snapshot();
    const whole = encodeSnapshotBinary(snapshot)[0]!;
    const parts = encodeSnapshotBinary(snapshot, 4096);
    expect(parts.length).toBe(Math.ceil(whole.length / 4096));
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(4096);
      expect(p.byteOffset === 0 && p.byteLength === p.buffer.byteLength).toBe(true);
    }
    expect(joinParts(parts)).toEqual(whole);
    expect(snapshotJson(decodeSnapshotBinary(joinParts(parts)))).toBe(JSON.stringify(snapshot));
    // as a Buffer inside a larger one (what SQLite hands back), too
    const inside = Buffer.concat([Buffer.from("xyz"), whole]).subarray(3);
    expect(snapshotJson(decodeSnapshotBinary(inside))).toBe(JSON.stringify(snapshot));
  });

  it("reads a structured clone's arrays (the encoder thread's view), leaves other data as it was", () => {
    const data = { a: { sym: 2, f64: "text", list: [1, 0, 2.5] }, b: { f64: Float64Array.of(1, Number.NaN, -0) } };
    const decoded = decodeSnapshotBinary<typeof data>(encodeSnapshotBinary(structuredClone(data))[0]!);
    expect(decoded.a).toEqual(data.a);
    expect(Array.from(decoded.b.f64)).toEqual([1, Number.NaN, -0]);
    expect(Object.is(decoded.b.f64[2], -0)).toBe(true); // the arrays' bits, which JSON numbers would lose
  });

  it("refuses bytes that are not a whole binary snapshot, naming why", () => {
    const bytes = encodeSnapshotBinary(trained(2).snapshot())[0]!;
    expect(() => decodeSnapshotBinary(Buffer.from("{}"))).toThrow(/no LWS header/);
    expect(() => decodeSnapshotBinary(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    const future = bytes.slice();
    future[3] = 9;
    expect(() => decodeSnapshotBinary(future)).toThrow(/format 9/);
  });
});
