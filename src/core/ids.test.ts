import { describe, expect, it, vi } from "vitest";
import { newId } from "./ids.js";

const ID = /^dec_[0-9A-HJKMNP-TV-Z]{26}$/;

describe("newId", () => {
  it("sorts in creation order, within one millisecond too, and never repeats", () => {
    const ids = [newId("dec", 1000), newId("dec", 1000), newId("dec", 1000), newId("dec", 1001), newId("dec", 999)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(ID);
  });

  it("keeps creation order over many ids in one millisecond", () => {
    const ids = Array.from({ length: 10_000 }, () => newId("dec", 5000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("differs between processes (a fresh module instance stands for another process or a restart)", async () => {
    vi.resetModules();
    const other = (await import("./ids.js")).newId;
    const mine = Array.from({ length: 1000 }, () => newId("dec", 7000));
    const theirs = Array.from({ length: 1000 }, () => other("dec", 7000));
    expect(theirs[0]).toMatch(ID);
    expect(new Set([...mine, ...theirs]).size).toBe(2000);
    // The 40-bit process part (after prefix and time) is what tells them apart.
    expect(mine[0]!.slice(14, 22)).not.toBe(theirs[0]!.slice(14, 22));
  });
});
