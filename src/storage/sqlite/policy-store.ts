import type Database from "better-sqlite3";
import type { PolicySnapshot } from "../../bandit/base-policy.js";
import {
  PolicyFencedOut,
  type PolicySaveOptions,
  type PolicyStore,
  type StoredPolicy,
} from "../../bandit/policy-store.js";
import { encodeSnapshotBinary } from "../../bandit/snapshot-binary.js";
import { encodeSnapshotParts, SnapshotEncoder, snapshotHead } from "../snapshot-encoder.js";
import { ownOrShare } from "./database.js";
import { type PolicySnapshotRow, SAVE_POLICY_SQL } from "./log-ops.js";
import { type SqliteLogWriter, WorkerLogWriter } from "./log-writer.js";
import {
  CREATE_PARTS_SQL,
  newSaveNumber,
  partsReference,
  readStoredSnapshot,
  SNAPSHOT_PART_BYTES,
} from "./policy-snapshot-rows.js";

/**
 * SQLite PolicyStore (the embedded default). One row per policy id holding its latest snapshot: the binary form
 * (bandit/snapshot-binary.ts: raw doubles, symmetric matrices packed), as one BLOB or, when it is larger than
 * a part, as parts in `policy_snapshot_parts` (policy-snapshot-rows.ts says the forms; rows in the JSON text every
 * version before wrote still read). Type, version and updates are columns too so they can be listed without
 * decoding. The default policy id lives in a one-row meta table. Pass a path (or ":memory:"), or an open
 * better-sqlite3 database shared with other stores (then close() leaves it open).
 *
 * With the engine's log `writer`, a snapshot is written by the writer's thread (log-ops.ts `policySnapshot`):
 * `save` resolves once committed, as before, but neither the encoding of a large snapshot nor the wait for the
 * write lock the writer holds between its commits stalls the event loop (measured ~0.1-1 s per periodic save on
 * the main connection). A snapshot handed over is encoded on the snapshot encoder's thread (snapshot-encoder.ts),
 * its arrays transferred there, not copied; the parts go to the writer one at a time, each in a commit of its own
 * between the ones requests wait for, then the row naming them, then the older save's parts are pruned a few at
 * a time. Reads and deletes stay on the main connection and wait for the snapshot writes queued before them.
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
  /** With the writer's thread: handed-over snapshots are encoded on a thread of their own (never the writer's). */
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
      ${CREATE_PARTS_SQL};
    `);
  }

  async save(snapshot: PolicySnapshot, savedAt: number, options: PolicySaveOptions = {}): Promise<void> {
    if (options.fence !== undefined) return this.fencedSave(snapshot, savedAt, options.fence);
    if (!this.writer) {
      // No writer thread (tools, tests): one transaction on this connection, as the fenced save.
      this.db.transaction(() => this.writeWhole(snapshot, savedAt))();
      return;
    }
    // After the save queued before (an encoded one may still be on the encoder's thread): saves land in order.
    const before = this.queued;
    const parts = encodeSnapshotParts(this.encoder, snapshot, options.handOver, SNAPSHOT_PART_BYTES);
    const head = snapshotHead(snapshot, savedAt);
    const written = parts.then(async (p) => {
      await before;
      return this.writeParts(head, p, this.writer as SqliteLogWriter);
    });
    // Resolves once the older save's parts are pruned too: an engine closes its log writer after the saves at
    // close resolved, and would otherwise leave a snapshot's worth of parts until the next save.
    const done = written.then((prune) => prune());
    this.queued = done.catch(() => {}); // the caller sees the failure; the queue only orders
    await done;
  }

  /**
   * The parts one commit each, then the row (one op, the save's durable point); resolves with the pruning of
   * the parts of the policy's older saves, for the queue to run after it (a few per commit).
   */
  private async writeParts(
    head: Omit<PolicySnapshotRow, "stored">,
    parts: Uint8Array[],
    writer: SqliteLogWriter,
  ): Promise<() => Promise<void>> {
    let stored = parts[0] as Uint8Array;
    let keep = -1;
    if (parts.length > 1) {
      keep = newSaveNumber();
      for (let part = 0; part < parts.length; part++)
        await writer.write({ kind: "policySnapshotPart", id: head.id, save: keep, part, bytes: parts[part]! });
      stored = partsReference(keep, parts.length);
    }
    await writer.write({ kind: "policySnapshot", row: { ...head, stored } });
    return async () => {
      while (await writer.write({ kind: "policySnapshotPrune", id: head.id, keep }).catch(() => false));
    };
  }

  /** The snapshot as one BLOB row, and no parts, on this connection (inside the caller's transaction). */
  private writeWhole(snapshot: PolicySnapshot, savedAt: number, guard = ""): void {
    const { id, type, version, progress } = snapshot;
    const bytes = encodeSnapshotBinary(snapshot)[0] as Uint8Array;
    const stored = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const saved = this.db
      .prepare(`${SAVE_POLICY_SQL}${guard}`)
      .run(id, type, version, progress.updates, savedAt, savedAt, stored);
    if (saved.changes > 0) this.db.prepare("DELETE FROM policy_snapshot_parts WHERE id = ?").run(id);
  }

  /**
   * In the queue: after the saves queued before it (one must not land over this one), and before any made after
   * it (its deleting the policy's parts must not take theirs).
   */
  private fencedSave(snapshot: PolicySnapshot, savedAt: number, fence: number): Promise<void> {
    const done = this.queued.then(() => this.fencedSaveNow(snapshot, savedAt, fence));
    this.queued = done.catch(() => {});
    return done;
  }

  private fencedSaveNow(snapshot: PolicySnapshot, savedAt: number, fence: number): void {
    const { id } = snapshot;
    this.db.transaction(() => {
      const raised = this.db
        .prepare(
          `INSERT INTO policy_fences (id, fence) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET fence = excluded.fence
           WHERE policy_fences.fence <= excluded.fence`,
        )
        .run(id, fence);
      if (raised.changes !== 1) throw new PolicyFencedOut(id, fence); // rolls the transaction back
      // Never over a newer spec revision: a re-registration between the learner's load and this save wins.
      this.writeWhole(snapshot, savedAt, " WHERE policy_snapshots.version <= excluded.version");
    })();
  }

  async load(id: string): Promise<StoredPolicy | undefined> {
    await this.queued;
    const row = this.db.prepare("SELECT id, snapshot, saved_at FROM policy_snapshots WHERE id = ?").get(id) as
      | SnapshotRow
      | undefined;
    return row && this.stored(row);
  }

  async revision(id: string): Promise<number | undefined> {
    await this.queued;
    const row = this.db.prepare("SELECT version FROM policy_snapshots WHERE id = ?").get(id) as
      | { version: number }
      | undefined;
    return row?.version;
  }

  async ids(): Promise<string[]> {
    await this.queued;
    const rows = this.db.prepare("SELECT id FROM policy_snapshots ORDER BY created_at, id").all() as { id: string }[];
    return rows.map((r) => r.id);
  }

  async list(): Promise<StoredPolicy[]> {
    await this.queued;
    const rows = this.db
      .prepare("SELECT id, snapshot, saved_at FROM policy_snapshots ORDER BY created_at, id")
      .all() as SnapshotRow[];
    return rows.map((r) => this.stored(r));
  }

  private stored(row: SnapshotRow): StoredPolicy {
    return { snapshot: readStoredSnapshot(this.db, row.id, row.snapshot), savedAt: row.saved_at };
  }

  /**
   * After the saves queued before it (one must not bring the policy back after it), and before any made after
   * it (the pruning of its parts must not take theirs): in the queue itself.
   */
  async delete(id: string): Promise<boolean> {
    const done = this.queued.then(() => this.deleteNow(id));
    this.queued = done.catch(() => {});
    return done;
  }

  private async deleteNow(id: string): Promise<boolean> {
    const removed = this.db.prepare("DELETE FROM policy_snapshots WHERE id = ?").run(id).changes > 0;
    this.db.prepare("DELETE FROM policy_meta WHERE key = 'default' AND value = ?").run(id);
    // Its parts (megabytes) go a few per writer commit when there is a writer: this connection would hold the lock.
    if (this.writer) while (await this.writer.write({ kind: "policySnapshotPrune", id, keep: -1 }));
    else this.db.prepare("DELETE FROM policy_snapshot_parts WHERE id = ?").run(id);
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

interface SnapshotRow {
  id: string;
  snapshot: string | Uint8Array;
  saved_at: number;
}
