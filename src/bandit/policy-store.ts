import type { PolicySnapshot } from "./base-policy.js";

/**
 * Where policy snapshots are persisted so a restart resumes learning (the PolicyRegistry saves on an
 * interval and on close, and restores at start). One latest snapshot per policy id; the snapshot's
 * `version` is the spec revision and `progress.updates` tells how far learning went. Also keeps which
 * policy is the default. Adapters: storage/memory/policy-store.ts, storage/sqlite/policy-store.ts.
 */
export interface PolicyStore {
  /**
   * Upsert the latest snapshot of `snapshot.id`. `handOver`: the caller will not use this snapshot again, so
   * a store may take its typed arrays (snapshot-codec.ts F64Field) to another thread without copying them.
   */
  save(snapshot: PolicySnapshot, savedAt: number, options?: { handOver?: boolean }): Promise<void>;
  load(id: string): Promise<StoredPolicy | undefined>;
  /** Every stored policy, oldest first by first save. */
  list(): Promise<StoredPolicy[]>;
  /** The stored policies' ids, without their snapshots (API nodes poll it for policies registered elsewhere). */
  ids(): Promise<string[]>;
  delete(id: string): Promise<boolean>;
  setDefault(id: string | undefined): Promise<void>;
  getDefault(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface StoredPolicy {
  snapshot: PolicySnapshot;
  /** Epoch ms of the save. */
  savedAt: number;
}
