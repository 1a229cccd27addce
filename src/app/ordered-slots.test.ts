import { describe, expect, it } from "vitest";
import { OrderedSlots } from "./ordered-slots.js";

describe("OrderedSlots", () => {
  it("keeps keys in insertion order and reuses a released slot for the next new key", () => {
    const slots = new OrderedSlots();
    expect([slots.claim("a"), slots.claim("b"), slots.claim("c")]).toEqual([0, 1, 2]);
    expect(slots.release("b")).toBe(1);
    expect(slots.release("b")).toBeUndefined();
    expect(slots.claim("d")).toBe(1); // the freed slot, not a new one
    expect([...slots.entries()]).toEqual([
      ["a", 0],
      ["c", 2],
      ["d", 1],
    ]);
    expect(slots.oldest()).toBe("a");
    expect(slots.size).toBe(3);
    expect(slots.has("b")).toBe(false);
    expect(slots.slotOf("c")).toBe(2);
  });
});
