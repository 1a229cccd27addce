/**
 * Leases with fencing tokens (issue 13): a worker duty (log writer, joiner + learner of a policy, rollout
 * controller, trainer) runs only while its holder has the lease; a standby takes over when it lapses.
 * A lapsed holder may not know it lapsed (a GC pause, SIGSTOP), so every write it makes to shared state goes
 * through `fencedWrite` with its token, and the store refuses a token that is no longer the lease's current one
 * (Kleppmann, "How to do distributed locking", 2016: the fencing token). Adapters:
 * `storage/memory/lease-store-memory.ts`, `storage/redis/lease-store-redis.ts`; both pass
 * `lease-store.contract.ts`.
 */
export interface LeaseStore {
  /**
   * Takes the lease when nobody holds it (a lapsed lease counts as free), for `ttlMs`. Resolves its fencing
   * token, which strictly increases per name across holders, or undefined when it is held (also by `holder`
   * itself: a holder keeps its lease with `renew`).
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<number | undefined>;
  /** Extends the lease to `ttlMs` from now; false when `holder` no longer holds it with this token. */
  renew(name: string, holder: string, token: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once (a clean shutdown); false when `holder` did not hold it with this token. */
  release(name: string, holder: string, token: number): Promise<boolean>;
  /** Who holds the lease now, if anyone. */
  current(name: string): Promise<LeaseHolder | undefined>;
  /**
   * Writes `value` under `key` in the lease's own space only while `token` is the lease's current token
   * (held, unexpired): checked and written in one atomic step. False, and nothing written, otherwise.
   */
  fencedWrite(name: string, token: number, key: string, value: Uint8Array): Promise<boolean>;
  /** What the last accepted fenced write put under `key`. */
  fencedRead(name: string, key: string): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

export interface LeaseHolder {
  holder: string;
  token: number;
}
