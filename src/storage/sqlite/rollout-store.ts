import type Database from "better-sqlite3";
import type { TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import {
  applyTrackerSave,
  foldDue,
  type StoredTracker,
  snapshotOfStored,
  storedFromSnapshot,
} from "../../rollout/tracker-save.js";
import { ownOrShare } from "./database.js";

/**
 * SQLite rollout store (the embedded default). Rollouts, audit entries and counter snapshots are JSON
 * documents: they are small, read whole, and their shape belongs to the domain, not to SQL. A tracker's
 * counters are a snapshot document plus the changes saved since, one document a tick (rollout/
 * tracker-changes.ts: a tick writes what changed, not the whole tracker); once the changes outweigh the
 * snapshot, they are folded into a new one, so writing stays proportional to what changed and reading to
 * the snapshot's size.
 * Pass a path (or ":memory:"), or an open better-sqlite3 database shared with other stores.
 */

export class SqliteRolloutStore implements RolloutStore {
  private readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly statements: ReturnType<SqliteRolloutStore["prepareStatements"]>;
  /** Bytes of each rollout's snapshot and of the changes saved since (to know when to fold them). */
  private readonly sizes = new Map<string, { snapshot: number; changes: number }>();

  constructor(pathOrDb: string | Database.Database) {
    ({ db: this.db, owned: this.owned } = ownOrShare(pathOrDb));
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS rollouts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rollout_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS rollout_audit_by_rollout ON rollout_audit (rollout_id, seq);
      CREATE TABLE IF NOT EXISTS rollout_stats (rollout_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rollout_stats_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS rollout_stats_changes_by_rollout ON rollout_stats_changes (rollout_id, seq);
    `);
    this.statements = this.prepareStatements();
  }

  async save(rollout: Rollout): Promise<void> {
    this.db
      .prepare(
        "INSERT INTO rollouts (id, created_at, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
      )
      .run(rollout.id, rollout.createdAt, JSON.stringify(rollout));
  }

  async get(id: string): Promise<Rollout | undefined> {
    const row = this.db.prepare("SELECT doc FROM rollouts WHERE id = ?").get(id) as { doc: string } | undefined;
    return row && (JSON.parse(row.doc) as Rollout);
  }

  async list(): Promise<Rollout[]> {
    const rows = this.db.prepare("SELECT doc FROM rollouts ORDER BY created_at DESC, id DESC").all() as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as Rollout);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.db
      .prepare("INSERT INTO rollout_audit (rollout_id, at, doc) VALUES (?, ?, ?)")
      .run(entry.rolloutId, entry.at, JSON.stringify(entry));
  }

  async audit(rolloutId: string): Promise<AuditEntry[]> {
    const rows = this.db.prepare("SELECT doc FROM rollout_audit WHERE rollout_id = ? ORDER BY seq").all(rolloutId) as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as AuditEntry);
  }

  async saveStats(rolloutId: string, save: TrackerSave): Promise<void> {
    if (save.full) {
      this.writeSnapshot(rolloutId, snapshotOfStored(applyTrackerSave(undefined, save)));
      return;
    }
    const doc = JSON.stringify(save);
    this.statements.addChange.run(rolloutId, doc);
    const sizes = this.sizesOf(rolloutId);
    sizes.changes += doc.length;
    if (foldDue(sizes)) {
      const folded = this.readStats(rolloutId);
      if (folded) this.writeSnapshot(rolloutId, snapshotOfStored(folded));
    }
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const s = this.readStats(rolloutId);
    return s && snapshotOfStored(s);
  }

  /** The snapshot with every change saved since applied in order. */
  private readStats(rolloutId: string): StoredTracker | undefined {
    const row = this.statements.snapshot.get(rolloutId) as { doc: string } | undefined;
    if (!row) return undefined;
    let state = storedFromSnapshot(JSON.parse(row.doc) as TrackerSnapshot);
    for (const change of this.statements.changes.iterate(rolloutId) as Iterable<{ doc: string }>) {
      state = applyTrackerSave(state, JSON.parse(change.doc) as TrackerSave);
    }
    return state;
  }

  private writeSnapshot(rolloutId: string, snapshot: TrackerSnapshot): void {
    const doc = JSON.stringify(snapshot);
    this.db.transaction(() => {
      this.statements.saveSnapshot.run(rolloutId, doc);
      this.statements.dropChanges.run(rolloutId);
    })();
    this.sizes.set(rolloutId, { snapshot: doc.length, changes: 0 });
  }

  private sizesOf(rolloutId: string): { snapshot: number; changes: number } {
    let sizes = this.sizes.get(rolloutId);
    if (!sizes) {
      const r = this.statements.sizes.get(rolloutId, rolloutId) as { snapshot: number | null; changes: number | null };
      sizes = { snapshot: r.snapshot ?? 0, changes: r.changes ?? 0 };
      this.sizes.set(rolloutId, sizes);
    }
    return sizes;
  }

  /** Prepared once: a tick writes one small row, and preparing statements each time cost more than that. */
  private prepareStatements() {
    const db = this.db;
    return {
      snapshot: db.prepare("SELECT doc FROM rollout_stats WHERE rollout_id = ?"),
      changes: db.prepare("SELECT doc FROM rollout_stats_changes WHERE rollout_id = ? ORDER BY seq"),
      addChange: db.prepare("INSERT INTO rollout_stats_changes (rollout_id, doc) VALUES (?, ?)"),
      saveSnapshot: db.prepare(
        "INSERT INTO rollout_stats (rollout_id, doc) VALUES (?, ?) ON CONFLICT(rollout_id) DO UPDATE SET doc = excluded.doc",
      ),
      dropChanges: db.prepare("DELETE FROM rollout_stats_changes WHERE rollout_id = ?"),
      sizes: db.prepare(`SELECT (SELECT length(doc) FROM rollout_stats WHERE rollout_id = ?) AS snapshot,
        (SELECT sum(length(doc)) FROM rollout_stats_changes WHERE rollout_id = ?) AS changes`),
    };
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }
}
