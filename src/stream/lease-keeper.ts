import type { Clock } from "../core/clock.js";
import type { LeaseStore } from "./lease-store.js";

/** What one `tick` did: took the lease, kept it, lost it, or waits for it (another holder has it). */
export type LeaseTick = "gained" | "kept" | "lost" | "standby";

/**
 * One duty's lease as its worker sees it: call `tick()` every `ttlMs / 3` or so (the caller owns the timer, so
 * this stays testable with a manual clock). A standby acquires when the lease is free; the holder renews.
 * `holds()` is the holder's own, conservative view: it counts the lease from when the acquire or renew was
 * *sent*, so it ends no later than the store's expiry does, and a worker stops the duty's work when it turns
 * false (its fenced writes would be refused by then anyway).
 */
export class LeaseKeeper {
  private held: { token: number; validUntil: number } | undefined;

  constructor(
    private readonly leases: LeaseStore,
    readonly name: string,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  /** The fencing token to write with, while held. */
  get token(): number | undefined {
    return this.held?.token;
  }

  holds(): boolean {
    return this.held !== undefined && this.clock.now() < this.held.validUntil;
  }

  async tick(): Promise<LeaseTick> {
    const sentAt = this.clock.now();
    if (this.held) {
      const renewed = await this.leases.renew(this.name, this.holder, this.held.token, this.ttlMs).catch(() => false);
      if (renewed && sentAt < this.held.validUntil) {
        this.held.validUntil = sentAt + this.ttlMs;
        return "kept";
      }
      // Refused, unreachable, or renewed too late to trust: give up our view of it; a later tick may acquire.
      // Renewed too late means the store still counts us as the holder (for a whole new ttl): give it back,
      // or the standby would wait that ttl out while nobody does the duty's work.
      const late = this.held;
      this.held = undefined;
      if (renewed) await this.leases.release(this.name, this.holder, late.token).catch(() => false);
      return "lost";
    }
    const token = await this.leases.acquire(this.name, this.holder, this.ttlMs).catch(() => undefined);
    if (token === undefined) return "standby";
    this.held = { token, validUntil: sentAt + this.ttlMs };
    return "gained";
  }

  /** Gives the lease up (a clean shutdown), so a standby takes over without waiting for the expiry. */
  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held) await this.leases.release(this.name, this.holder, held.token).catch(() => false);
  }
}
