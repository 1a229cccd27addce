import type Database from "better-sqlite3";
import type { TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import { ownOrShare } from "./database.js";

/**
 * SQLite rollout store (the embedded default). Rollouts, audit entries and counter snapshots are JSON
 * documents: they are small, read whole, and their shape belongs to the domain, not to SQL. A tracker's
 * sessions, decisions and stage users are rows, one a key, so a tick writes only what changed since the
 * last one (rollout/tracker-changes.ts).
 * Pass a path (or ":memory:"), or an open better-sqlite3 database shared with other stores.
 */
const ARMS = ["candidate", "incumbent"] as const;

export class SqliteRolloutStore implements RolloutStore {
  private readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly writeStats: (rolloutId: string, save: TrackerSave) => void;

  constructor(pathOrDb: string | Database.Database) {
    ({ db: this.db, owned: this.owned } = ownOrShare(pathOrDb));
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS rollouts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rollout_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS rollout_audit_by_rollout ON rollout_audit (rollout_id, seq);
      CREATE TABLE IF NOT EXISTS rollout_stats (rollout_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rollout_tracker_rows (
        rollout_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT,
        PRIMARY KEY (rollout_id, kind, key));
    `);
    this.writeStats = this.statsWriter();
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
    this.writeStats(rolloutId, save);
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const row = this.db.prepare("SELECT doc FROM rollout_stats WHERE rollout_id = ?").get(rolloutId) as
      | { doc: string }
      | undefined;
    if (!row) return undefined;
    const doc = JSON.parse(row.doc) as Partial<TrackerSnapshot> & Pick<TrackerSnapshot, "counters">;
    // Written before the rows existed: the whole snapshot in the document. Moved to rows once.
    if (doc.sessions && doc.decisions && doc.stageUsers) {
      const { counters, sessions, decisions, stageUsers } = doc as TrackerSnapshot;
      const removed = { sessions: [], decisions: [] };
      await this.saveStats(rolloutId, {
        full: true,
        counters,
        sessions,
        decisions,
        removed,
        stageUsers: { reset: true, added: stageUsers },
      });
    }
    const rows = this.db
      .prepare("SELECT kind, key, doc FROM rollout_tracker_rows WHERE rollout_id = ? ORDER BY rowid")
      .all(rolloutId) as { kind: string; key: string; doc: string | null }[];
    const out: TrackerSnapshot = {
      counters: doc.counters,
      stageUsers: { candidate: [], incumbent: [] },
      sessions: [],
      decisions: [],
    };
    for (const r of rows) {
      if (r.kind === "session") out.sessions.push([r.key, JSON.parse(r.doc as string)]);
      else if (r.kind === "decision") out.decisions.push([r.key, JSON.parse(r.doc as string)]);
      else if (r.kind === "candidate" || r.kind === "incumbent") out.stageUsers[r.kind].push(r.key);
    }
    return out;
  }

  /** Prepared once: a tick writes a few rows, and preparing its statements each time cost more than that. */
  private statsWriter(): (rolloutId: string, save: TrackerSave) => void {
    const db = this.db;
    const delKind = db.prepare("DELETE FROM rollout_tracker_rows WHERE rollout_id = ? AND kind = ?");
    const upsert = db.prepare(
      "INSERT INTO rollout_tracker_rows (rollout_id, kind, key, doc) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET doc = excluded.doc",
    );
    const remove = db.prepare("DELETE FROM rollout_tracker_rows WHERE rollout_id = ? AND kind = ? AND key = ?");
    const addUser = db.prepare("INSERT OR IGNORE INTO rollout_tracker_rows (rollout_id, kind, key) VALUES (?, ?, ?)");
    const saveCounters = db.prepare(
      "INSERT INTO rollout_stats (rollout_id, doc) VALUES (?, ?) ON CONFLICT(rollout_id) DO UPDATE SET doc = excluded.doc",
    );
    return db.transaction((rolloutId: string, save: TrackerSave) => {
      if (save.full) for (const kind of ["session", "decision"]) delKind.run(rolloutId, kind);
      if (save.stageUsers.reset) for (const arm of ARMS) delKind.run(rolloutId, arm);
      for (const k of save.removed.sessions) remove.run(rolloutId, "session", k);
      for (const k of save.removed.decisions) remove.run(rolloutId, "decision", k);
      for (const [k, v] of save.sessions) upsert.run(rolloutId, "session", k, JSON.stringify(v));
      for (const [k, v] of save.decisions) upsert.run(rolloutId, "decision", k, JSON.stringify(v));
      for (const arm of ARMS) for (const user of save.stageUsers.added[arm]) addUser.run(rolloutId, arm, user);
      saveCounters.run(rolloutId, JSON.stringify({ counters: save.counters }));
    });
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }
}
