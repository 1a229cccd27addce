import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DecisionFacts } from "../../decisions/decision-facts.js";
import { decodeFacts, encodeFacts } from "./facts-codec.js";

/** An LWF1 block (spec/decision-record/facts-lwf1.json says what it holds). */
const lwf1 = new Uint8Array(
  Buffer.from(
    (
      JSON.parse(readFileSync(new URL("../../../spec/decision-record/facts-lwf1.json", import.meta.url), "utf8")) as {
        block: string;
      }
    ).block,
    "base64",
  ),
);

/** Every column as its bytes: equal bit for bit (NaN payloads and -0 included), not only by value. */
function columnBytes(f: DecisionFacts): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [key, col] of Object.entries(f)) {
    if (typeof col === "number") out[key] = [col];
    else out[key] = Array.from(new Uint8Array(col.buffer, col.byteOffset, col.byteLength));
  }
  return out;
}

describe("decision facts blocks", () => {
  it("reads an LWF1 block as it was, and writes the same facts as LWF2 with distributions packed, bit for bit", () => {
    const old = decodeFacts(lwf1);
    expect(old.decisions).toBe(4);
    expect(old.hasProbabilities.includes(0)).toBe(true);
    const packed = encodeFacts(old);
    expect(packed.readUInt32LE(0)).not.toBe(Buffer.from(lwf1).readUInt32LE(0)); // a new magic
    expect(columnBytes(decodeFacts(packed))).toEqual(columnBytes(old));
    // The Thompson decision's 4 × 30 values and the slot without a distribution are no longer Float64 columns.
    expect(packed.length).toBeLessThan(lwf1.length - 120 * 8 * 0.6);
  });

  it("decodes from an unaligned copy as from an aligned one", () => {
    const packed = encodeFacts(decodeFacts(lwf1));
    const shifted = new Uint8Array(packed.length + 1).subarray(1);
    shifted.set(packed);
    expect(columnBytes(decodeFacts(shifted))).toEqual(columnBytes(decodeFacts(packed)));
  });

  it("refuses a block whose packed distributions are cut short", () => {
    const packed = encodeFacts(decodeFacts(lwf1));
    const facts = decodeFacts(packed);
    // The distributions' count, 8 bytes before the packed part, is read; a packed slot cut short fails.
    const cut = packed.subarray(0, packed.length - 3);
    expect(() => decodeFacts(cut)).toThrow();
    expect(facts.probabilities.length).toBeGreaterThan(0);
  });
});
