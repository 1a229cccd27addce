import { afterEach, describe, expect, it } from "vitest";
import type { LeaseStore } from "./lease-store.js";

/**
 * The one contract every LeaseStore adapter passes (memory; Redis single node and Cluster). `advance(ms)` lets
 * at least `ms` pass on the store's clock (manual in memory, real waiting on Redis). Assertions that a lease
 * is still held use leases of 60 s, so a slow machine cannot make them lapse; expiry uses 30 ms leases.
 */
export interface LeasesUnderTest {
  leases: LeaseStore;
  advance(ms: number): Promise<void>;
}

const HELD_MS = 60_000;
const SHORT_MS = 30;

export function leaseStoreContract(name: string, factory: () => Promise<LeasesUnderTest>): void {
  describe(`LeaseStore contract: ${name}`, () => {
    const opened: LeaseStore[] = [];
    const open = async (): Promise<LeasesUnderTest> => {
      const under = await factory();
      opened.push(under.leases);
      return under;
    };
    afterEach(async () => {
      for (const l of opened.splice(0)) await l.close();
    });

    it("grants a free lease to one holder at a time", async () => {
      const { leases } = await open();
      const token = await leases.acquire("learner:p1", "w1", HELD_MS);
      expect(token).toBeGreaterThan(0);
      expect(await leases.acquire("learner:p1", "w2", HELD_MS)).toBeUndefined();
      expect(await leases.acquire("learner:p1", "w1", HELD_MS)).toBeUndefined();
      expect(await leases.current("learner:p1")).toEqual({ holder: "w1", token });
      expect(await leases.acquire("learner:p2", "w2", HELD_MS)).toBeGreaterThan(0); // names are independent
    });

    it("renews and releases only for the holder with its token", async () => {
      const { leases } = await open();
      const token = (await leases.acquire("ctl", "w1", HELD_MS))!;
      expect(await leases.renew("ctl", "w2", token, HELD_MS)).toBe(false);
      expect(await leases.renew("ctl", "w1", token + 1, HELD_MS)).toBe(false);
      expect(await leases.renew("ctl", "w1", token, HELD_MS)).toBe(true);
      expect(await leases.release("ctl", "w2", token)).toBe(false);
      expect(await leases.release("ctl", "w1", token)).toBe(true);
      expect(await leases.current("ctl")).toBeUndefined();
      const next = await leases.acquire("ctl", "w2", HELD_MS);
      expect(next).toBeGreaterThan(token);
    });

    it("lets a second holder take a lapsed lease with a larger token and fences the first out", async () => {
      const { leases, advance } = await open();
      const old = (await leases.acquire("trainer", "w1", SHORT_MS))!;
      expect(await leases.fencedWrite("trainer", old, "model", new Uint8Array([1, 2, 3]))).toBe(true);
      await advance(SHORT_MS * 3);
      expect(await leases.current("trainer")).toBeUndefined();
      expect(await leases.fencedWrite("trainer", old, "model", new Uint8Array([9]))).toBe(false); // lapsed
      const fresh = (await leases.acquire("trainer", "w2", HELD_MS))!;
      expect(fresh).toBeGreaterThan(old);
      expect(await leases.renew("trainer", "w1", old, HELD_MS)).toBe(false);
      expect(await leases.fencedWrite("trainer", old, "model", new Uint8Array([9]))).toBe(false);
      expect(await leases.release("trainer", "w1", old)).toBe(false);
      expect(await leases.current("trainer")).toEqual({ holder: "w2", token: fresh });
      expect([...((await leases.fencedRead("trainer", "model")) ?? [])]).toEqual([1, 2, 3]);
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      expect(await leases.fencedWrite("trainer", fresh, "model", bytes)).toBe(true);
      expect([...((await leases.fencedRead("trainer", "model")) ?? [])]).toEqual([...bytes]);
    });

    it("keeps a renewed lease past its first expiry", async () => {
      const { leases, advance } = await open();
      const token = (await leases.acquire("renewed", "w1", SHORT_MS * 4))!;
      expect(await leases.renew("renewed", "w1", token, HELD_MS)).toBe(true);
      await advance(SHORT_MS * 6);
      expect(await leases.current("renewed")).toEqual({ holder: "w1", token });
      expect(await leases.acquire("renewed", "w2", HELD_MS)).toBeUndefined();
    });

    it("never hands out a token twice across many holders", async () => {
      const { leases } = await open();
      const tokens: number[] = [];
      for (let i = 0; i < 20; i++) {
        const holder = `w${i % 3}`;
        const t = (await leases.acquire("rotating", holder, HELD_MS))!;
        tokens.push(t);
        expect(await leases.release("rotating", holder, t)).toBe(true);
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    });

    it("grants a contested lease to exactly one of many concurrent holders", async () => {
      const { leases } = await open();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => leases.acquire("contested", `w${i}`, HELD_MS)),
      );
      expect(results.filter((t) => t !== undefined)).toHaveLength(1);
    });
  });
}
