import type { PolicySnapshot } from "../../bandit/base-policy.js";
import {
  PolicyFencedOut,
  type PolicySaveOptions,
  type PolicyStore,
  policyFenceName,
  type StoredPolicy,
} from "../../bandit/policy-store.js";
import { decodeSnapshotBinary, encodeSnapshotBinary } from "../../bandit/snapshot-binary.js";
import { FencedOut } from "../../rollout/rollout-store.js";
import { fencedTransaction } from "./duty-fences.js";
import { type PgClient, type PgPool, query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * PolicyStore on PostgreSQL: one row per policy id with its latest snapshot (as in SQLite: type, version and
 * updates are columns too); the default policy id in a one-row meta table. The snapshot is written in the
 * binary form (bandit/snapshot-binary.ts, "LWS" 1) to `snapshot_bytes` (bytea, migration 9); a row written
 * before holds its JSON in `snapshot` (text), still read, and becomes binary at the policy's next save.
 * One bytea, not parts as on SQLite: there the parts keep the log writer's thread, which every request's
 * commit waits for, free between them; here a save runs on a pooled connection of its own beside the log
 * writer's commits (MVCC, no shared lock), and PostgreSQL stores a value of up to 1 GB out of line (TOAST),
 * so a single ~7 MB bytea holds nothing else up (measured: bench/policy-store-postgres.bench.ts).
 * Low-volume writes, each its own autocommitted statement on the pool (durable when it resolves). A fenced
 * save (the learner duty's) raises the policy's row in the duties' fence table (`rollout_fences`, name
 * `learner:<id>`, duty-fences.ts) in the same transaction as the upsert, so a stale token writes nothing.
 */
export class PostgresPolicyStore implements PolicyStore {
  constructor(private readonly store: PostgresConnection) {}

  async save(snapshot: PolicySnapshot, savedAt: number, options: PolicySaveOptions = {}): Promise<void> {
    const { fence } = options;
    if (fence === undefined) return upsert(this.store.pool, snapshot, savedAt);
    try {
      await fencedTransaction(this.store.pool, policyFenceName(snapshot.id), fence, (client) =>
        upsert(client, snapshot, savedAt, NOT_OVER_NEWER_REVISION),
      );
    } catch (error) {
      throw error instanceof FencedOut ? new PolicyFencedOut(snapshot.id, fence) : error;
    }
  }

  async load(id: string): Promise<StoredPolicy | undefined> {
    const { rows } = await query<Row>(
      this.store.pool,
      `SELECT ${SNAPSHOT_COLUMNS} FROM policy_snapshots WHERE id = $1`,
      [id],
    );
    return rows[0] && toStored(rows[0]);
  }

  async ids(): Promise<string[]> {
    const { rows } = await query<{ id: string }>(
      this.store.pool,
      "SELECT id FROM policy_snapshots ORDER BY created_at, id",
    );
    return rows.map((r) => r.id);
  }

  async list(): Promise<StoredPolicy[]> {
    const { rows } = await query<Row>(
      this.store.pool,
      `SELECT ${SNAPSHOT_COLUMNS} FROM policy_snapshots ORDER BY created_at, id`,
    );
    return rows.map(toStored);
  }

  async delete(id: string): Promise<boolean> {
    // One statement: the snapshot and a default naming it go together.
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

  async close(): Promise<void> {}
}

/** A fenced save never lands over a newer spec revision: a re-registration between the learner's load and its save wins. */
const NOT_OVER_NEWER_REVISION = " WHERE policy_snapshots.version <= excluded.version";

async function upsert(on: PgPool | PgClient, snapshot: PolicySnapshot, savedAt: number, guard = ""): Promise<void> {
  const bytes = encodeSnapshotBinary(snapshot)[0] as Uint8Array;
  await query(
    on,
    `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot, snapshot_bytes)
     VALUES ($1, $2, $3, $4, $5, $5, NULL, $6)
     ON CONFLICT (id) DO UPDATE SET type = excluded.type, version = excluded.version, updates = excluded.updates,
       saved_at = excluded.saved_at, snapshot = NULL, snapshot_bytes = excluded.snapshot_bytes${guard}`,
    [
      snapshot.id,
      snapshot.type,
      snapshot.version,
      snapshot.progress.updates,
      savedAt,
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), // a Buffer: pg sends it as binary, not hex
    ],
  );
}

const SNAPSHOT_COLUMNS = "id, snapshot, snapshot_bytes, saved_at";

interface Row {
  id: string;
  /** The JSON a row written before migration 9 holds until its policy's next save. */
  snapshot: string | null;
  snapshot_bytes: Buffer | null;
  saved_at: number;
}

function toStored(row: Row): StoredPolicy {
  return { snapshot: readSnapshot(row), savedAt: row.saved_at };
}

function readSnapshot(row: Row): PolicySnapshot {
  if (row.snapshot_bytes !== null) return decodeSnapshotBinary<PolicySnapshot>(row.snapshot_bytes);
  if (row.snapshot !== null) return JSON.parse(row.snapshot) as PolicySnapshot;
  throw new Error(`policy ${row.id}: its stored snapshot is in no known form`);
}
