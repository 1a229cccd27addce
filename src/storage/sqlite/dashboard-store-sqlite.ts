import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { AuditInput, AuditLog, AuditQuery, AuditRecord, MinuteStore } from "../../app/dashboard-ports.js";
import { COUNT_FIELDS, type MinuteRow } from "../../app/minute-aggregates.js";
import { type AuditRow, auditListSql, auditOfRow, MINUTE_COLUMNS as COLUMNS } from "../dashboard-rows.js";
import type { SqliteDb } from "./database.js";

/**
 * The dashboard's per-minute aggregates in the log database (table `dashboard_minutes`, migration 3), on the
 * main thread's connection: a flush writes a few hundred small rows once a minute, a low-volume admin
 * write beside the log writer's (database.ts).
 */
export class SqliteMinuteStore implements MinuteStore {
  constructor(private readonly db: SqliteDb) {}

  async load(since: number): Promise<MinuteRow[]> {
    const rows = this.db
      .prepare(`SELECT series, minute, ${COLUMNS.join(", ")} FROM dashboard_minutes WHERE minute >= ?`)
      .all(since) as Record<string, number | string>[];
    return rows.map((r) => {
      const row = { series: String(r.series), minute: Number(r.minute) } as MinuteRow;
      COUNT_FIELDS.forEach((f, i) => {
        row[f] = Number(r[COLUMNS[i] as string]);
      });
      return row;
    });
  }

  async save(rows: readonly MinuteRow[]): Promise<void> {
    if (rows.length === 0) return;
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO dashboard_minutes (series, minute, ${COLUMNS.join(", ")})
       VALUES (?, ?, ${COLUMNS.map(() => "?").join(", ")})`,
    );
    this.db.transaction(() => {
      for (const r of rows) insert.run(r.series, r.minute, ...COUNT_FIELDS.map((f) => r[f]));
    })();
  }

  async deleteBefore(minute: number): Promise<void> {
    this.db.prepare("DELETE FROM dashboard_minutes WHERE minute < ?").run(minute);
  }
}

/** The audit timeline (table `admin_audit`, migration 3): one row per admin action or controller decision. */
export class SqliteAuditLog implements AuditLog {
  constructor(private readonly db: SqliteDb) {}

  async append(entry: AuditInput): Promise<AuditRecord> {
    const info = this.db
      .prepare(
        `INSERT INTO admin_audit (at, actor_name, actor_scope, action, target_kind, target_id, summary, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        entry.at,
        entry.actor.name,
        entry.actor.scope,
        entry.action,
        entry.target.kind,
        entry.target.id,
        entry.summary,
        entry.details === undefined ? null : JSON.stringify(entry.details),
      );
    return { ...entry, seq: Number(info.lastInsertRowid) };
  }

  async list(q: AuditQuery): Promise<AuditRecord[]> {
    const args: (string | number)[] = [];
    const sql = auditListSql(q, (value) => {
      args.push(value);
      return "?";
    });
    return (this.db.prepare(sql).all(...args) as AuditRow[]).map(auditOfRow);
  }
}

/**
 * Appends one entry to a data dir's audit timeline from another process (the CLI's key changes), on a
 * connection of its own (WAL: beside a running server's, waiting on busy_timeout for its writer). Only when
 * the log database exists with the timeline's table (migration 3): the CLI never creates or migrates a
 * database; returns whether it was written.
 */
export async function appendAuditInDataDir(dataDir: string, entry: AuditInput): Promise<boolean> {
  const path = join(dataDir, "loopwise.db");
  if (dataDir === ":memory:" || !existsSync(path)) return false;
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'admin_audit'").get();
    if (!table) return false;
    await new SqliteAuditLog(db).append(entry);
    return true;
  } finally {
    db.close();
  }
}
