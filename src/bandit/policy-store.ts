import type { PolicySnapshot } from "./base-policy.js";

/**
 * Where policy snapshots are persisted so a restart resumes learning (the PolicyRegistry saves on an
 * interval and on close, and restores at start). One latest snapshot per policy id; the snapshot's
 * `version` is the spec revision and `progress.updates` tells how far learning went. Also keeps which
 * policy is the default. Adapters: storage/memory/policy-store.ts, storage/sqlite/policy-store.ts,
 * storage/postgres/policy-store-postgres.ts; all pass policy-store.contract.ts.
 *
 * Fencing (issue 13): in scale-out the learner duty of a policy saves it under its lease `learner:<id>`
 * (`policyFenceName`) and passes the lease's fencing token. The store remembers the highest token that saved
 * each policy and refuses, in the same atomic step as the write, a save fenced with a lower one: a learner
 * frozen past its lease (SIGSTOP, a long GC) that wakes cannot put its older policy over the new holder's
 * (the spec revision does not tell them apart: same revision, fewer updates). Kleppmann, "How to do
 * distributed locking" (2016). Unfenced saves (one process, an API node registering a policy) are not checked
 * and do not move the fence.
 */
export interface PolicyStore {
  /**
   * Upsert the latest snapshot of `snapshot.id`. `handOver`: the caller will not use this snapshot again, so
   * a store may take its typed arrays (snapshot-codec.ts F64Field) to another thread without copying them.
   * `fence`: see "Fencing" above; a refused save writes nothing and rejects with `PolicyFencedOut`. A fenced
   * save also never replaces a stored snapshot of a newer spec revision (it resolves without writing): the
   * learner loads, sees the same revision, then saves; a re-registration landing in between must win, and the
   * learner's next sync picks it up.
   */
  save(snapshot: PolicySnapshot, savedAt: number, options?: PolicySaveOptions): Promise<void>;
  load(id: string): Promise<StoredPolicy | undefined>;
  /**
   * The stored snapshot's spec revision (its `version`) without reading the snapshot: the learner duty asks
   * every `persistEvery` checkpoints whether the policy was re-registered, and the default policy's snapshot is
   * tens of MB to fetch and decode.
   */
  revision(id: string): Promise<number | undefined>;
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

export interface PolicySaveOptions {
  handOver?: boolean;
  /** The fencing token of the lease `policyFenceName(snapshot.id)` the caller holds (see "Fencing"). */
  fence?: number;
}

/** The lease whose fencing tokens guard a policy's saves: its learner duty's (duties/learner-duty.ts). */
export function policyFenceName(policyId: string): string {
  return `learner:${policyId}`;
}

/** A save fenced with a token below one that already saved the policy: the caller's lease moved on. */
export class PolicyFencedOut extends Error {
  constructor(
    readonly policyId: string,
    readonly fence: number,
  ) {
    super(`policy ${policyId}: save fenced with token ${fence} refused, a newer token already saved it`);
    this.name = "PolicyFencedOut";
  }
}
