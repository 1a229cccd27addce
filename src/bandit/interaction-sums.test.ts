import { describe, expect, it } from "vitest";
import { InteractionSums } from "./interaction-sums.js";

describe("InteractionSums", () => {
  it("keeps every key's sums per block (growing past its first size) until invalidated", () => {
    const sums = new InteractionSums();
    const keys = Array.from({ length: 200 }, (_, i) => Math.imul(i + 1, 0x45d9f3b) | 0);
    keys.push(0, -1);
    const table = sums.table(7);
    for (const [i, key] of keys.entries()) {
      const slot = table.find(key);
      expect(slot).toBeLessThan(0);
      table.insert(slot, key, i, -i);
    }
    const again = sums.table(7);
    for (const [i, key] of keys.entries()) {
      const slot = again.find(key);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect([again.p1(slot), again.p2(slot)]).toEqual([i, -i]);
    }
    expect(sums.table(8).find(keys[0]!)).toBeLessThan(0); // another block
    again.own1 = 3;
    again.ownValid = true;
    sums.invalidate();
    const fresh = sums.table(7);
    expect(fresh.ownValid).toBe(false);
    for (const key of keys) expect(fresh.find(key)).toBeLessThan(0);
  });
});
