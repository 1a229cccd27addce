import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { LeaseKeeper } from "./lease-keeper.js";

const TTL = 3000;

describe("LeaseKeeper", () => {
  it("holds while ticking, hands over to the standby when the holder stops, and fences the old one", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const active = new LeaseKeeper(leases, "learner:p1", "w1", TTL, clock);
    const standby = new LeaseKeeper(leases, "learner:p1", "w2", TTL, clock);
    expect(await active.tick()).toBe("gained");
    expect(await standby.tick()).toBe("standby");
    for (let i = 0; i < 5; i++) {
      clock.advance(TTL / 3);
      expect(await active.tick()).toBe("kept");
      expect(await standby.tick()).toBe("standby");
    }
    const oldToken = active.token!;
    expect(await leases.fencedWrite("learner:p1", oldToken, "checkpoint", new Uint8Array([1]))).toBe(true);

    clock.advance(TTL + 1); // w1 stalls (SIGSTOP) past its lease
    expect(active.holds()).toBe(false);
    expect(await standby.tick()).toBe("gained");
    expect(standby.token).toBeGreaterThan(oldToken);
    expect(await leases.fencedWrite("learner:p1", oldToken, "checkpoint", new Uint8Array([2]))).toBe(false);
    expect(await active.tick()).toBe("lost"); // w1 resumes: its renew is refused
    expect(active.token).toBeUndefined();
    expect(await active.tick()).toBe("standby");
  });

  it("releases on shutdown so the standby takes over at once", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const a = new LeaseKeeper(leases, "ctl", "w1", TTL, clock);
    const b = new LeaseKeeper(leases, "ctl", "w2", TTL, clock);
    await a.tick();
    await a.release();
    expect(a.holds()).toBe(false);
    expect(await b.tick()).toBe("gained");
    expect(b.holds()).toBe(true);
  });

  it("gives back a lease renewed too late to trust, so the standby takes over at once", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const acquire = leases.acquire.bind(leases);
    leases.acquire = async (name, holder, ttlMs) => {
      clock.advance(500); // the acquire reaches the store 500 ms after it was sent
      return acquire(name, holder, ttlMs);
    };
    const active = new LeaseKeeper(leases, "learner:p1", "w1", TTL, clock);
    const standby = new LeaseKeeper(leases, "learner:p1", "w2", TTL, clock);
    expect(await active.tick()).toBe("gained");
    clock.advance(TTL - 400); // past w1's own view of the lease, not yet past the store's expiry
    expect(active.holds()).toBe(false);
    expect(await active.tick()).toBe("lost"); // the store renewed it, too late for w1 to trust
    expect(await leases.current("learner:p1")).toBeUndefined();
    expect(await standby.tick()).toBe("gained");
  });

  it("treats a store it cannot reach as a lost lease, never as a kept one", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const keeper = new LeaseKeeper(leases, "trainer", "w1", TTL, clock);
    await keeper.tick();
    leases.renew = async () => {
      throw new Error("connection lost");
    };
    expect(await keeper.tick()).toBe("lost");
    expect(keeper.holds()).toBe(false);
  });
});
