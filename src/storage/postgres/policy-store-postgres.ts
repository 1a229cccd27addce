import type { PolicySnapshot } from "../../bandit/base-policy.js";
import {
  PolicyFencedOut,
  type PolicySaveOptions,
  type PolicyStore,
  policyFenceName,
  type StoredPolicy,
} from "../../bandit/policy-store.js";
import { FencedOut } from "../../rollout/rollout-store.js";
import { encodeSnapshotParts, SnapshotEncoder, type SnapshotHead, snapshotHead } from "../snapshot-encoder.js";
import { fencedTransaction } from "./duty-fences.js";
import {
  PG_SNAPSHOT_PART_BYTES,
  readSnapshotRows,
  type SnapshotRow,
  selectSnapshotRows,
  writeSnapshotRows,
} from "./policy-snapshot-parts.js";
import { inTransaction, query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * PolicyStore on PostgreSQL: one row per policy id with its latest snapshot (as in SQLite: type, version and
 * updates are columns too); the default policy id in a one-row meta table. The snapshot is stored in the binary
 * form (bandit/snapshot-binary.ts, "LWS" 1) as parts of at most 1 MiB (policy-snapshot-parts.ts: migration 9,
 * and why parts); a row written before holds its JSON text, still read, and becomes binary at its next save.
 * A save is one transaction on a pooled connection (durable when it resolves). A snapshot handed over is encoded
 * on the snapshot encoder's thread, its arrays transferred there (at 2,000 arms the encoding is ~35 MB of copies:
 * 90-170 ms of a worker's event loop), and a large stored snapshot is decoded there on a load (its arrays
 * transferred back); saves and deletes land in the order they were made. A fenced save (the
 * learner duty's) raises the policy's row in the duties' fence table (`rollout_fences`, name `learner:<id>`,
 * duty-fences.ts) in the same transaction, so a stale token writes nothing.
 */
export class PostgresPolicyStore implements PolicyStore {
  /** The last save or delete queued: the next one runs after it (its encoding may run before). */
  private queued: Promise<unknown> = Promise.resolve();
  private readonly encoder = new SnapshotEncoder();

  constructor(private readonly store: PostgresConnection) {}

  save(snapshot: PolicySnapshot, savedAt: number, options: PolicySaveOptions = {}): Promise<void> {
    const parts = encodeSnapshotParts(this.encoder, snapshot, options.handOver, PG_SNAPSHOT_PART_BYTES);
    const head = snapshotHead(snapshot, savedAt);
    return this.inQueue(async () => this.write(head, await parts, options.fence));
  }

  private async write(head: SnapshotHead, parts: Uint8Array[], fence: number | undefined): Promise<void> {
    const { pool } = this.store;
    if (fence === undefined) {
      await inTransaction(pool, (client) => writeSnapshotRows(client, head, parts));
      return;
    }
    try {
      await fencedTransaction(pool, policyFenceName(head.id), fence, (client) =>
        writeSnapshotRows(client, head, parts, NOT_OVER_NEWER_REVISION),
      );
    } catch (error) {
      throw error instanceof FencedOut ? new PolicyFencedOut(head.id, fence) : error;
    }
  }

  /** Runs `work` after the saves and deletes queued before it; the caller sees its failure, the queue goes on. */
  private inQueue<T>(work: () => Promise<T>): Promise<T> {
    const done = this.queued.then(work);
    this.queued = done.catch(() => {});
    return done;
  }

  async load(id: string): Promise<StoredPolicy | undefined> {
    const { rows } = await query<SnapshotRow>(this.store.pool, selectSnapshotRows("WHERE s.id = $1"), [id]);
    return (await readSnapshotRows(rows, this.decodeOffThread))[0];
  }

  async revision(id: string): Promise<number | undefined> {
    const { rows } = await query<{ version: number }>(
      this.store.pool,
      "SELECT version FROM policy_snapshots WHERE id = $1",
      [id],
    );
    return rows[0]?.version;
  }

  async ids(): Promise<string[]> {
    const { rows } = await query<{ id: string }>(
      this.store.pool,
      "SELECT id FROM policy_snapshots ORDER BY created_at, id",
    );
    return rows.map((r) => r.id);
  }

  async list(): Promise<StoredPolicy[]> {
    const { rows } = await query<SnapshotRow>(this.store.pool, selectSnapshotRows(""));
    return readSnapshotRows(rows, this.decodeOffThread);
  }

  /** Large snapshots decode on the encoder's thread (policy-snapshot-parts.ts `OFF_THREAD_BASE64_CHARS`). */
  private readonly decodeOffThread = (parts: readonly string[]) => this.encoder.decodeBase64Parts(parts);

  delete(id: string): Promise<boolean> {
    return this.inQueue(() => this.deleteNow(id));
  }

  private async deleteNow(id: string): Promise<boolean> {
    // One statement: the snapshot (its parts by cascade) and a default naming it go together.
    const { rows } = await query<{ removed: boolean }>(
      this.store.pool,
      `WITH gone AS (DELETE FROM policy_snapshots WHERE id = $1 RETURNING id),
            meta AS (DELETE FROM policy_meta WHERE key = 'default' AND value = $1)
       SELECT EXISTS (SELECT 1 FROM gone) AS removed`,
      [id],
    );
    return rows[0]?.removed ?? false;
  }

  async setDefault(id: string | undefined): Promise<void> {
    if (id === undefined) await query(this.store.pool, "DELETE FROM policy_meta WHERE key = 'default'");
    else
      await query(
        this.store.pool,
        "INSERT INTO policy_meta (key, value) VALUES ('default', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [id],
      );
  }

  async getDefault(): Promise<string | undefined> {
    const { rows } = await query<{ value: string }>(
      this.store.pool,
      "SELECT value FROM policy_meta WHERE key = 'default'",
    );
    return rows[0]?.value;
  }

  async close(): Promise<void> {
    await this.queued;
    await this.encoder.close();
  }
}

/** A fenced save never lands over a newer spec revision: a re-registration between the learner's load and its save wins. */
const NOT_OVER_NEWER_REVISION = " WHERE policy_snapshots.version <= excluded.version";
