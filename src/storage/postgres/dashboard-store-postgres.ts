import type {
  AttributionPart,
  AuditInput,
  AuditLog,
  AuditQuery,
  AuditRecord,
  FencedMinuteWrites,
  FencingMinuteStore,
} from "../../app/dashboard-ports.js";
import { COUNT_FIELDS, type MinuteRow } from "../../app/minute-aggregates.js";
import { type AuditRow, auditListSql, auditOfRow, MINUTE_COLUMNS as COLUMNS } from "../dashboard-rows.js";
import { loadFenceCheckpoint, raiseFence, saveFenceCheckpoint } from "./duty-fences.js";
import { asStorageError, inTransaction, type PgClient, type PgPool, query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * The dashboard's per-minute aggregates on PostgreSQL (table `dashboard_minutes`, migration 2). A flush is a
 * few hundred small rows a minute: one multi-row upsert, autocommitted. In scale-out the `dashboard-fold` duty
 * writes them through `fenced` (one transaction: raise the lease's fence, upsert, cut, checkpoint), and every
 * node reads them. The fence and the checkpoint live in `rollout_fences` (migration 5), which holds them per
 * lease name for every duty that fences PostgreSQL writes (the rollout controller's, this one's).
 */
export class PostgresMinuteStore implements FencingMinuteStore {
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
    try {
      await upsertMinutes(this.store.pool, rows);
    } catch (error) {
      throw asStorageError(error);
    }
  }

  async deleteBefore(minute: number): Promise<void> {
    await query(this.store.pool, "DELETE FROM dashboard_minutes WHERE minute < $1", [minute]);
  }

  async fenced(lease: string, token: number): Promise<FencedMinuteWrites> {
    const fencedTx = (work: (client: PgClient) => Promise<void>) =>
      inTransaction(this.store.pool, async (client) => {
        await raiseFence(client, lease, token);
        await work(client);
      });
    await fencedTx(async () => {});
    return {
      checkpoint: (rows, deleteBefore, consumer, attribution) =>
        fencedTx(async (client) => {
          await upsertMinutes(client, rows);
          await client.query("DELETE FROM dashboard_minutes WHERE minute < $1", [deleteBefore]);
          await saveFenceCheckpoint(client, lease, consumer);
          if (attribution) await saveAttribution(client, lease, attribution);
        }),
    };
  }

  loadCheckpoint(lease: string): Promise<string | undefined> {
    return loadFenceCheckpoint(this.store.pool, lease);
  }

  async loadAttribution(lease: string): Promise<Uint8Array[]> {
    const { rows } = await query<{ bytes: Buffer }>(
      this.store.pool,
      "SELECT bytes FROM fold_attribution WHERE lease = $1 ORDER BY seq",
      [lease],
    );
    return rows.map((r) => new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.length));
  }
}

/** A full replaces the lease's parts (seq 0); a delta follows the last one (the fence's row lock orders writers). */
async function saveAttribution(client: PgClient, lease: string, part: AttributionPart): Promise<void> {
  if (part.full) {
    await client.query("DELETE FROM fold_attribution WHERE lease = $1", [lease]);
    await client.query("INSERT INTO fold_attribution (lease, seq, bytes) VALUES ($1, 0, $2)", [
      lease,
      asBuffer(part.bytes),
    ]);
    return;
  }
  await client.query(
    `INSERT INTO fold_attribution (lease, seq, bytes)
     SELECT $1, coalesce(max(seq), 0) + 1, $2 FROM fold_attribution WHERE lease = $1`,
    [lease, asBuffer(part.bytes)],
  );
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** One multi-row upsert of minutes (a few hundred at most: one per series and minute changed). */
async function upsertMinutes(client: PgClient | PgPool, rows: readonly MinuteRow[]): Promise<void> {
  if (rows.length === 0) return;
  const width = 2 + COLUMNS.length;
  const params: unknown[] = [];
  const tuples = rows.map((r, i) => {
    params.push(r.series, r.minute, ...COUNT_FIELDS.map((f) => r[f]));
    return `(${Array.from({ length: width }, (_, j) => `$${i * width + j + 1}`).join(", ")})`;
  });
  await client.query(
    `INSERT INTO dashboard_minutes (series, minute, ${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}
     ON CONFLICT (series, minute) DO UPDATE SET ${COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")}`,
    params,
  );
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
