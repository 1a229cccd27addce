import type Database from "better-sqlite3";
import type { TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import { ownOrShare } from "./database.js";

/**
 * SQLite rollout store (the embedded default). Rollouts, audit entries and counter snapshots are JSON
 * documents: they are small, read whole, and their shape belongs to the domain, not to SQL.
 * Pass a path (or ":memory:"), or an open better-sqlite3 database shared with other stores.
 */
export class SqliteRolloutStore implements RolloutStore {
  private readonly db: Database.Database;
  private readonly owned: boolean;

  constructor(pathOrDb: string | Database.Database) {
    ({ db: this.db, owned: this.owned } = ownOrShare(pathOrDb));
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS rollouts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rollout_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS rollout_audit_by_rollout ON rollout_audit (rollout_id, seq);
      CREATE TABLE IF NOT EXISTS rollout_stats (rollout_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    `);
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

  async saveStats(rolloutId: string, snapshot: TrackerSnapshot): Promise<void> {
    this.db
      .prepare(
        "INSERT INTO rollout_stats (rollout_id, doc) VALUES (?, ?) ON CONFLICT(rollout_id) DO UPDATE SET doc = excluded.doc",
      )
      .run(rolloutId, JSON.stringify(snapshot));
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const row = this.db.prepare("SELECT doc FROM rollout_stats WHERE rollout_id = ?").get(rolloutId) as
      | { doc: string }
      | undefined;
    return row && (JSON.parse(row.doc) as TrackerSnapshot);
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }
}
