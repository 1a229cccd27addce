import type { AuditQuery, AuditRecord } from "../app/dashboard-ports.js";
import { COUNT_FIELDS } from "../app/minute-aggregates.js";

/**
 * What the SQLite and PostgreSQL adapters of the dashboard's stores share: the tables' column names, the
 * audit query's filters as SQL, and the mapping of an audit row. Only the placeholders differ (`?`, `$n`).
 */

/** Column names of the per-minute counts, in COUNT_FIELDS order (snake_case). */
export const MINUTE_COLUMNS = COUNT_FIELDS.map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

export interface AuditRow {
  seq: number | string;
  at: number | string;
  actor_name: string | null;
  actor_scope: string | null;
  action: string;
  target_kind: string;
  target_id: string;
  summary: string;
  details: string | null;
}

/**
 * The audit list query for `q`: `param` adds a value and returns its placeholder, so each adapter keeps its
 * own parameter style. `action` matches the action or its family (`rollout` matches `rollout.advance`).
 */
export function auditListSql(q: AuditQuery, param: (value: string | number) => string): string {
  const where: string[] = [];
  if (q.from !== undefined) where.push(`at >= ${param(q.from)}`);
  if (q.to !== undefined) where.push(`at < ${param(q.to)}`);
  if (q.action !== undefined) {
    where.push(`(action = ${param(q.action)} OR action LIKE ${param(`${escapeLike(q.action)}.%`)} ESCAPE '\\')`);
  }
  if (q.targetKind !== undefined) where.push(`target_kind = ${param(q.targetKind)}`);
  if (q.targetId !== undefined) where.push(`target_id = ${param(q.targetId)}`);
  if (q.actor !== undefined) where.push(`actor_name = ${param(q.actor)}`);
  if (q.before !== undefined) where.push(`seq < ${param(q.before)}`);
  if (q.after !== undefined) where.push(`seq > ${param(q.after)}`);
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  return `SELECT * FROM admin_audit ${filter} ORDER BY seq ${q.ascending ? "ASC" : "DESC"} LIMIT ${param(q.limit)}`;
}

export function auditOfRow(r: AuditRow): AuditRecord {
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

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
