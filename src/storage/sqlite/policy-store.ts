import type Database from "better-sqlite3";
import type { PolicySnapshot } from "../../bandit/base-policy.js";
import {
  PolicyFencedOut,
  type PolicySaveOptions,
  type PolicyStore,
  type StoredPolicy,
} from "../../bandit/policy-store.js";
import { snapshotTransfer } from "../../bandit/snapshot-codec.js";
import { ownOrShare } from "./database.js";
import { type PolicySnapshotRow, SAVE_POLICY_SQL } from "./log-ops.js";
import { type SqliteLogWriter, WorkerLogWriter } from "./log-writer.js";
import { SnapshotEncoder } from "./snapshot-encoder.js";

/**
 * SQLite PolicyStore (the embedded default). One row per policy id holding its latest snapshot as a JSON
 * document (the learned state inside is base64 typed arrays: exact doubles, compact); type, version and
 * updates are columns too so they can be listed without parsing. The default policy id lives in a
 * one-row meta table. Pass a path (or ":memory:"), or an open better-sqlite3 database shared with other
 * stores (then close() leaves it open).
 *
 * With the engine's log `writer`, a snapshot is written by the writer's thread (log-ops.ts
 * `policySnapshot`): `save` resolves once committed, as before, but the JSON of a large snapshot (the
 * hybrid default's grows to tens of MB) and the wait for the write lock the writer holds between its
 * commits no longer stall the event loop (measured ~0.1-1 s per periodic save on the main connection).
 * Reads and deletes stay on the main connection and wait for the snapshot writes queued before them.
 * The snapshot's arrays are not base64'd on the event loop either (bandit/snapshot-codec.ts F64Field): a
 * snapshot handed over travels as transferred buffers to the snapshot encoder's thread (snapshot-encoder.ts), whose
 * JSON bytes the writer then stores: building it on the writer's thread held every request's ack (176 ms at 4 MB).
 *
 * A fenced save (policy-store.ts "Fencing"; only duties pass a token, and they run on PostgreSQL, so this is
 * the contract kept rather than a hot path) checks and raises the policy's fence (`policy_fences`) and
 * writes the snapshot in one transaction on the main connection, after the writer's queued saves.
 */
export class SqlitePolicyStore implements PolicyStore {
  private readonly db: Database.Database;
  private readonly owned: boolean;
  /** The last snapshot handed to the writer: later deletes and reads wait for it (a save never lands after). */
  private queued: Promise<unknown> = Promise.resolve();
  /** With the writer's thread: handed-over snapshots get their JSON on a thread of their own (never the writer's). */
  private readonly encoder: SnapshotEncoder | undefined;

  constructor(
    pathOrDb: string | Database.Database,
    private readonly writer?: SqliteLogWriter,
  ) {
    ({ db: this.db, owned: this.owned } = ownOrShare(pathOrDb));
    this.encoder = writer instanceof WorkerLogWriter ? new SnapshotEncoder() : undefined;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS policy_snapshots (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        version INTEGER NOT NULL,
        updates INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        saved_at INTEGER NOT NULL,
        snapshot TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS policy_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS policy_fences (id TEXT PRIMARY KEY, fence INTEGER NOT NULL);
    `);
  }

  async save(snapshot: PolicySnapshot, savedAt: number, options: PolicySaveOptions = {}): Promise<void> {
    if (options.fence !== undefined) return this.fencedSave(snapshot, savedAt, options.fence);
    const row: PolicySnapshotRow = {
      id: snapshot.id,
      type: snapshot.type,
      version: snapshot.version,
      updates: snapshot.progress.updates,
      savedAt,
      snapshot,
      ...(options.handOver ? { handOver: true } : {}),
    };
    if (this.writer) {
      // After the save queued before (an encoded one may still be on the encoder's thread): saves land in order.
      const before = this.queued;
      const writer = this.writer;
      const written =
        this.encoder && options.handOver
          ? this.encodedSave(row, before)
          : before.then(() => writer.write({ kind: "policySnapshot", row }));
      this.queued = written.catch(() => {}); // the caller sees the failure; the queue only orders
      return written;
    }
    this.db
      .prepare(SAVE_POLICY_SQL)
      .run(row.id, row.type, row.version, row.updates, savedAt, savedAt, JSON.stringify(snapshot));
  }

  /**
   * The JSON built on the encoder's thread (snapshot-encoder.ts), then stored by the writer as bytes. Saves still land
   * in the order they were made: this one is written after the one queued before it.
   */
  private async encodedSave(row: PolicySnapshotRow, before: Promise<unknown>): Promise<void> {
    const json = await (this.encoder as SnapshotEncoder).encode(row.snapshot, snapshotTransfer(row.snapshot));
    await before;
    const { snapshot: _sent, handOver: _moved, ...head } = row;
    await (this.writer as SqliteLogWriter).write({
      kind: "policySnapshot",
      row: { ...head, snapshot: undefined, json },
    });
  }

  private async fencedSave(snapshot: PolicySnapshot, savedAt: number, fence: number): Promise<void> {
    await this.queued; // an unfenced save queued before must not land over this one
    const { id, type, version, progress } = snapshot;
    this.db.transaction(() => {
      const raised = this.db
        .prepare(
          `INSERT INTO policy_fences (id, fence) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET fence = excluded.fence
           WHERE policy_fences.fence <= excluded.fence`,
        )
        .run(id, fence);
      if (raised.changes !== 1) throw new PolicyFencedOut(id, fence); // rolls the transaction back
      // Never over a newer spec revision: a re-registration between the learner's load and this save wins.
      this.db
        .prepare(`${SAVE_POLICY_SQL} WHERE policy_snapshots.version <= excluded.version`)
        .run(id, type, version, progress.updates, savedAt, savedAt, JSON.stringify(snapshot));
    })();
  }

  async load(id: string): Promise<StoredPolicy | undefined> {
    await this.queued;
    const row = this.db.prepare("SELECT snapshot, saved_at FROM policy_snapshots WHERE id = ?").get(id) as
      | { snapshot: string; saved_at: number }
      | undefined;
    return row && { snapshot: JSON.parse(row.snapshot) as PolicySnapshot, savedAt: row.saved_at };
  }

  async ids(): Promise<string[]> {
    await this.queued;
    const rows = this.db.prepare("SELECT id FROM policy_snapshots ORDER BY created_at, id").all() as { id: string }[];
    return rows.map((r) => r.id);
  }

  async list(): Promise<StoredPolicy[]> {
    await this.queued;
    const rows = this.db.prepare("SELECT snapshot, saved_at FROM policy_snapshots ORDER BY created_at, id").all() as {
      snapshot: string;
      saved_at: number;
    }[];
    return rows.map((r) => ({ snapshot: JSON.parse(r.snapshot) as PolicySnapshot, savedAt: r.saved_at }));
  }

  async delete(id: string): Promise<boolean> {
    await this.queued; // a snapshot queued before the delete must not bring the policy back after it
    const removed = this.db.prepare("DELETE FROM policy_snapshots WHERE id = ?").run(id).changes > 0;
    this.db.prepare("DELETE FROM policy_meta WHERE key = 'default' AND value = ?").run(id);
    return removed;
  }

  async setDefault(id: string | undefined): Promise<void> {
    if (id === undefined) this.db.prepare("DELETE FROM policy_meta WHERE key = 'default'").run();
    else
      this.db
        .prepare(
          "INSERT INTO policy_meta (key, value) VALUES ('default', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .run(id);
  }

  async getDefault(): Promise<string | undefined> {
    const row = this.db.prepare("SELECT value FROM policy_meta WHERE key = 'default'").get() as
      | { value: string }
      | undefined;
    return row?.value;
  }

  async close(): Promise<void> {
    await this.queued;
    await this.encoder?.close();
    if (this.owned && this.db.open) this.db.close();
  }
}
