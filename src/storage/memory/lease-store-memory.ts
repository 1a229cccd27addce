import { type Clock, systemClock } from "../../core/clock.js";
import type { LeaseHolder, LeaseStore } from "../../stream/lease-store.js";

/**
 * Leases in one process (the embedded default, and tests with a manual clock). Every duty then runs in this
 * process, so the lease only orders duties and fences a stopped one; the semantics are the Redis adapter's.
 */
export function createMemoryLeaseStore(clock: Clock = systemClock): LeaseStore {
  const leases = new Map<string, LeaseHolder & { expiresAt: number }>();
  const lastToken = new Map<string, number>();
  const data = new Map<string, Map<string, Uint8Array>>();

  const live = (name: string): (LeaseHolder & { expiresAt: number }) | undefined => {
    const lease = leases.get(name);
    if (lease && lease.expiresAt <= clock.now()) {
      leases.delete(name);
      return undefined;
    }
    return lease;
  };
  const heldBy = (name: string, holder: string, token: number): boolean => {
    const lease = live(name);
    return lease !== undefined && lease.holder === holder && lease.token === token;
  };

  return {
    async acquire(name, holder, ttlMs) {
      if (live(name)) return undefined;
      const token = (lastToken.get(name) ?? 0) + 1;
      lastToken.set(name, token);
      leases.set(name, { holder, token, expiresAt: clock.now() + ttlMs });
      return token;
    },
    async renew(name, holder, token, ttlMs) {
      if (!heldBy(name, holder, token)) return false;
      leases.get(name)!.expiresAt = clock.now() + ttlMs;
      return true;
    },
    async release(name, holder, token) {
      if (!heldBy(name, holder, token)) return false;
      leases.delete(name);
      return true;
    },
    async current(name) {
      const lease = live(name);
      return lease ? { holder: lease.holder, token: lease.token } : undefined;
    },
    async fencedWrite(name, token, key, value) {
      if (live(name)?.token !== token) return false;
      const space = data.get(name) ?? new Map<string, Uint8Array>();
      data.set(name, space);
      space.set(key, new Uint8Array(value)); // a copy: the caller may reuse its buffer
      return true;
    },
    async fencedRead(name, key) {
      const value = data.get(name)?.get(key);
      return value ? new Uint8Array(value) : undefined;
    },
    async close() {},
  };
}
