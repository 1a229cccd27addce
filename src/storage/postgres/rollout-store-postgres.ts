import type { TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import { query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * RolloutStore on PostgreSQL. As in SQLite, rollouts, audit entries and counter snapshots are JSON
 * documents: small, read whole, shaped by the domain. Each write is one autocommitted statement.
 */
export class PostgresRolloutStore implements RolloutStore {
  constructor(private readonly store: PostgresConnection) {}

  async save(rollout: Rollout): Promise<void> {
    await query(
      this.store.pool,
      "INSERT INTO rollouts (id, created_at, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
      [rollout.id, rollout.createdAt, JSON.stringify(rollout)],
    );
  }

  async get(id: string): Promise<Rollout | undefined> {
    const { rows } = await query<{ doc: string }>(this.store.pool, "SELECT doc FROM rollouts WHERE id = $1", [id]);
    return rows[0] && (JSON.parse(rows[0].doc) as Rollout);
  }

  async list(): Promise<Rollout[]> {
    const { rows } = await query<{ doc: string }>(
      this.store.pool,
      "SELECT doc FROM rollouts ORDER BY created_at DESC, id DESC",
    );
    return rows.map((r) => JSON.parse(r.doc) as Rollout);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await query(this.store.pool, "INSERT INTO rollout_audit (rollout_id, at, doc) VALUES ($1, $2, $3)", [
      entry.rolloutId,
      entry.at,
      JSON.stringify(entry),
    ]);
  }

  async audit(rolloutId: string): Promise<AuditEntry[]> {
    const { rows } = await query<{ doc: string }>(
      this.store.pool,
      "SELECT doc FROM rollout_audit WHERE rollout_id = $1 ORDER BY seq",
      [rolloutId],
    );
    return rows.map((r) => JSON.parse(r.doc) as AuditEntry);
  }

  async saveStats(rolloutId: string, snapshot: TrackerSnapshot): Promise<void> {
    await query(
      this.store.pool,
      "INSERT INTO rollout_stats (rollout_id, doc) VALUES ($1, $2) ON CONFLICT (rollout_id) DO UPDATE SET doc = excluded.doc",
      [rolloutId, JSON.stringify(snapshot)],
    );
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const { rows } = await query<{ doc: string }>(
      this.store.pool,
      "SELECT doc FROM rollout_stats WHERE rollout_id = $1",
      [rolloutId],
    );
    return rows[0] && (JSON.parse(rows[0].doc) as TrackerSnapshot);
  }

  async close(): Promise<void> {}
}
