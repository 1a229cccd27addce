import { describe, expect, it } from "vitest";
import { newId } from "./ids.js";

describe("newId", () => {
  it("sorts in creation order, within one millisecond too, and never repeats", () => {
    const ids = [newId("dec", 1000), newId("dec", 1000), newId("dec", 1000), newId("dec", 1001), newId("dec", 999)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^dec_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
