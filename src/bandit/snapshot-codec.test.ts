import { describe, expect, it } from "vitest";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "./policy-types.js";
import { decodeF64, encodeF64, F64Field, snapshotJson, snapshotTransfer } from "./snapshot-codec.js";

/** The default policy (hybrid: per-arm full covariances) after one update on each of `arms` items. */
function trained(arms: number) {
  const policy = createPolicy("codec", DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) {
    const input = { context: { hour: i % 24 }, candidates: [{ id: `item-${i}`, features: { price: i + 0.5 } }] };
    policy.update({ input, index: 0, position: 0, reward: i % 2, propensity: 0.5, placedBefore: [] });
  }
  return policy;
}

describe("snapshot arrays (F64Field)", () => {
  it("writes the base64 format snapshots always had, also for a packed symmetric matrix", () => {
    const full = Float64Array.from([1, 2, 3, 2, 4, 5, 3, 5, 6]); // symmetric 3×3, row-major
    const packed = Float64Array.from([1, 2, 3, 4, 5, 6]); // its upper triangle, row by row
    expect(JSON.stringify({ a: new F64Field(packed, 3) })).toBe(JSON.stringify({ a: encodeF64(full) }));
    expect(decodeF64(new F64Field(packed, 3))).toEqual(full);
    expect(decodeF64(encodeF64(full))).toEqual(full);
  });

  it("gives the same JSON after a structured clone (the writer thread's view) as before it", () => {
    const snapshot = trained(5).snapshot();
    const json = JSON.stringify(snapshot);
    expect(json).not.toContain('"f64"'); // toJSON wrote base64 strings
    const cloned = structuredClone(snapshot); // drops the class: fields arrive as plain { f64, symmetric }
    expect(snapshotJson(cloned)).toBe(json);
    // and a policy restored from either answers alike
    const input = { context: { hour: 3 }, candidates: [{ id: "item-3", features: { price: 3.5 } }, { id: "x" }] };
    const fromJson = restorePolicy(JSON.parse(json));
    const fromClone = restorePolicy(cloned);
    expect(Array.from(fromClone.distribution(input))).toEqual(Array.from(fromJson.distribution(input)));
  });

  it("hands a snapshot's arrays over whole (transfer detaches them here) and decodes to fresh copies", () => {
    const policy = trained(3);
    const snapshot = policy.snapshot();
    const expected = JSON.stringify(policy.snapshot());
    const buffers = snapshotTransfer(snapshot);
    expect(buffers.length).toBe(3 * 2); // each arm's mean and covariance (its serving copy is in sync)
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(snapshot, buffers);
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true); // moved, not copied
    port1.close();
    port2.close();
    expect(JSON.stringify(policy.snapshot())).toBe(expected); // the policy's own state was never handed over

    const field = new F64Field(Float64Array.from([1, 2]));
    const decoded = decodeF64(field);
    decoded[0] = 9;
    expect(field.f64[0]).toBe(1);
  });
});
