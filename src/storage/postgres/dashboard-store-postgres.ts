import type { AuditInput, AuditLog, AuditQuery, AuditRecord, MinuteStore } from "../../app/dashboard-ports.js";
import { COUNT_FIELDS, type MinuteRow } from "../../app/minute-aggregates.js";
import { query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/** Column names of the counts, in COUNT_FIELDS order (snake_case), as in the SQLite adapter. */
const COLUMNS = COUNT_FIELDS.map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

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

interface AuditRow {
  seq: string;
  at: string;
  actor_name: string | null;
  actor_scope: string | null;
  action: string;
  target_kind: string;
  target_id: string;
  summary: string;
  details: string | null;
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
    const where: string[] = [];
    const args: (string | number)[] = [];
    /** Adds a parameter and returns its placeholder. */
    const param = (value: string | number): string => {
      args.push(value);
      return `$${args.length}`;
    };
    if (q.from !== undefined) where.push(`at >= ${param(q.from)}`);
    if (q.to !== undefined) where.push(`at < ${param(q.to)}`);
    if (q.action !== undefined) {
      where.push(`(action = ${param(q.action)} OR action LIKE ${param(`${escapeLike(q.action)}.%`)})`);
    }
    if (q.targetKind !== undefined) where.push(`target_kind = ${param(q.targetKind)}`);
    if (q.targetId !== undefined) where.push(`target_id = ${param(q.targetId)}`);
    if (q.actor !== undefined) where.push(`actor_name = ${param(q.actor)}`);
    if (q.before !== undefined) where.push(`seq < ${param(q.before)}`);
    if (q.after !== undefined) where.push(`seq > ${param(q.after)}`);
    const limit = param(q.limit);
    const sql = `SELECT * FROM admin_audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY seq ${q.ascending ? "ASC" : "DESC"} LIMIT ${limit}`;
    const { rows } = await query<AuditRow>(this.store.pool, sql, args);
    return rows.map(auditOfRow);
  }
}

function auditOfRow(r: AuditRow): AuditRecord {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actor: { name: r.actor_name, scope: r.actor_scope as AuditRecord["actor"]["scope"] },
    action: r.action,
    target: { kind: r.target_kind as AuditRecord["target"]["kind"], id: r.target_id },
    summary: r.summary,
    ...(r.details === null ? {} : { details: JSON.parse(r.details) as Record<string, unknown> }),
  };
}

/** LIKE's default escape character in PostgreSQL is the backslash. */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
