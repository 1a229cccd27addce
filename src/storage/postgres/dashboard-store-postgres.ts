import type { AuditInput, AuditLog, AuditQuery, AuditRecord, MinuteStore } from "../../app/dashboard-ports.js";
import { COUNT_FIELDS, type MinuteRow } from "../../app/minute-aggregates.js";
import { type AuditRow, auditListSql, auditOfRow, MINUTE_COLUMNS as COLUMNS } from "../dashboard-rows.js";
import { query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * The dashboard's per-minute aggregates on PostgreSQL (table `dashboard_minutes`, migration 2). A flush is a
 * few hundred small rows a minute: one multi-row upsert, autocommitted.
 */
export class PostgresMinuteStore implements MinuteStore {
  constructor(private readonly store: PostgresConnection) {}

  async load(since: number): Promise<MinuteRow[]> {
    const { rows } = await query<Record<string, number | string>>(
      this.store.pool,
      `SELECT series, minute, ${COLUMNS.join(", ")} FROM dashboard_minutes WHERE minute >= $1`,
      [since],
    );
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
    const width = 2 + COLUMNS.length;
    const params: unknown[] = [];
    const tuples = rows.map((r, i) => {
      params.push(r.series, r.minute, ...COUNT_FIELDS.map((f) => r[f]));
      return `(${Array.from({ length: width }, (_, j) => `$${i * width + j + 1}`).join(", ")})`;
    });
    await query(
      this.store.pool,
      `INSERT INTO dashboard_minutes (series, minute, ${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}
       ON CONFLICT (series, minute) DO UPDATE SET ${COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")}`,
      params,
    );
  }

  async deleteBefore(minute: number): Promise<void> {
    await query(this.store.pool, "DELETE FROM dashboard_minutes WHERE minute < $1", [minute]);
  }
}

/** The audit timeline on PostgreSQL (table `admin_audit`, migration 2), shared by every node. */
export class PostgresAuditLog implements AuditLog {
  constructor(private readonly store: PostgresConnection) {}

  async append(entry: AuditInput): Promise<AuditRecord> {
    const { rows } = await query<{ seq: string }>(
      this.store.pool,
      `INSERT INTO admin_audit (at, actor_name, actor_scope, action, target_kind, target_id, summary, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`,
      [
        entry.at,
        entry.actor.name,
        entry.actor.scope,
        entry.action,
        entry.target.kind,
        entry.target.id,
        entry.summary,
        entry.details === undefined ? null : JSON.stringify(entry.details),
      ],
    );
    return { ...entry, seq: Number(rows[0]?.seq) };
  }

  async list(q: AuditQuery): Promise<AuditRecord[]> {
    const args: (string | number)[] = [];
    const sql = auditListSql(q, (value) => {
      args.push(value);
      return `$${args.length}`;
    });
    const { rows } = await query<AuditRow>(this.store.pool, sql, args);
    return rows.map(auditOfRow);
  }
}
