import type { TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { FencedRolloutWrites, FencingRolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import {
  applyTrackerSave,
  foldDue,
  type StoredTracker,
  snapshotOfStored,
  storedFromSnapshot,
} from "../../rollout/tracker-save.js";
import { loadFenceCheckpoint, raiseFence, saveFenceCheckpoint } from "./duty-fences.js";
import { inTransaction, type PgClient, type PgPool, query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/**
 * RolloutStore on PostgreSQL. As in SQLite, rollouts, audit entries and counter snapshots are JSON
 * documents: small, read whole, shaped by the domain. Each write is one autocommitted statement, except the
 * rollout duty's fenced writes: one transaction each, which first raises the lease's fence (migration 5).
 */

export class PostgresRolloutStore implements FencingRolloutStore {
  /** Bytes of each rollout's snapshot and of the changes saved since (to know when to fold them). */
  private readonly sizes = new Map<string, { snapshot: number; changes: number }>();

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
    await this.insertAudit(this.store.pool, entry);
  }

  private async insertAudit(on: PgPool | PgClient, entry: AuditEntry): Promise<void> {
    await query(on, "INSERT INTO rollout_audit (rollout_id, at, doc) VALUES ($1, $2, $3)", [
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

  /**
   * As in SQLite: a snapshot document plus one change document a tick, folded into a new snapshot once the
   * changes outweigh it (rollout/tracker-save.ts). The save is serialized before the first await: the
   * tracker keeps changing its own objects.
   */
  async saveStats(rolloutId: string, save: TrackerSave): Promise<void> {
    if (save.full) {
      const snapshot = snapshotOfStored(applyTrackerSave(undefined, save));
      await this.inTransaction((client) => this.writeSnapshot(client, rolloutId, snapshot));
      return;
    }
    const doc = JSON.stringify(save);
    await this.appendChange(this.store.pool, rolloutId, doc);
    if (foldDue(await this.sizesOf(rolloutId))) {
      const folded = await this.readStats(rolloutId);
      if (folded) await this.inTransaction((client) => this.writeSnapshot(client, rolloutId, snapshotOfStored(folded)));
    }
  }

  private async appendChange(on: PgPool | PgClient, rolloutId: string, doc: string): Promise<void> {
    await query(on, "INSERT INTO rollout_stats_changes (rollout_id, doc) VALUES ($1, $2)", [rolloutId, doc]);
    const sizes = await this.sizesOf(rolloutId);
    sizes.changes += doc.length;
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const s = await this.readStats(rolloutId);
    return s && snapshotOfStored(s);
  }

  /** The snapshot with every change saved since applied in order. */
  private async readStats(
    rolloutId: string,
    on: PgPool | PgClient = this.store.pool,
  ): Promise<StoredTracker | undefined> {
    const { rows } = await query<{ doc: string }>(on, "SELECT doc FROM rollout_stats WHERE rollout_id = $1", [
      rolloutId,
    ]);
    if (!rows[0]) return undefined;
    let state = storedFromSnapshot(JSON.parse(rows[0].doc) as TrackerSnapshot);
    const changes = await query<{ doc: string }>(
      on,
      "SELECT doc FROM rollout_stats_changes WHERE rollout_id = $1 ORDER BY seq",
      [rolloutId],
    );
    for (const change of changes.rows) state = applyTrackerSave(state, JSON.parse(change.doc) as TrackerSave);
    return state;
  }

  /** The snapshot and the end of its changes (in the caller's transaction: a reader never sees one without the other). */
  private async writeSnapshot(client: PgClient, rolloutId: string, snapshot: TrackerSnapshot): Promise<void> {
    const doc = JSON.stringify(snapshot);
    await client.query(
      "INSERT INTO rollout_stats (rollout_id, doc) VALUES ($1, $2) ON CONFLICT (rollout_id) DO UPDATE SET doc = excluded.doc",
      [rolloutId, doc],
    );
    await client.query("DELETE FROM rollout_stats_changes WHERE rollout_id = $1", [rolloutId]);
    this.sizes.set(rolloutId, { snapshot: doc.length, changes: 0 });
  }

  private async inTransaction<T>(work: (client: PgClient) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.store.pool, work);
    } catch (error) {
      // A rolled-back write leaves the cached sizes unknown: read them again next time.
      this.sizes.clear();
      throw error;
    }
  }

  async fenced(lease: string, token: number): Promise<FencedRolloutWrites> {
    // Each write: raise the fence (refused when a newer token wrote: the row lock orders racing holders),
    // then write, in one transaction.
    const fencedTx = (work: (client: PgClient) => Promise<void>) =>
      this.inTransaction(async (client) => {
        await raiseFence(client, lease, token);
        await work(client);
      });
    const stats = async (client: PgClient, rolloutId: string, save: TrackerSave) => {
      if (save.full) return this.writeSnapshot(client, rolloutId, snapshotOfStored(applyTrackerSave(undefined, save)));
      await this.appendChange(client, rolloutId, JSON.stringify(save));
      if (!foldDue(await this.sizesOf(rolloutId))) return;
      const folded = await this.readStats(rolloutId, client);
      if (folded) await this.writeSnapshot(client, rolloutId, snapshotOfStored(folded));
    };
    await fencedTx(async () => {});
    return {
      save: (rollout) =>
        fencedTx(async (client) => {
          await client.query(
            `INSERT INTO rollouts (id, created_at, doc, fence) VALUES ($1, $2, $3, $4) ON CONFLICT (id)
             DO UPDATE SET doc = excluded.doc, fence = excluded.fence WHERE rollouts.fence <= excluded.fence`,
            [rollout.id, rollout.createdAt, JSON.stringify(rollout), token],
          );
        }),
      appendAudit: (entry) => fencedTx((client) => this.insertAudit(client, entry)),
      saveStats: (rolloutId, save) => fencedTx((client) => stats(client, rolloutId, save)),
      checkpoint: (all, consumer) =>
        fencedTx(async (client) => {
          for (const [rolloutId, save] of all) await stats(client, rolloutId, save);
          await saveFenceCheckpoint(client, lease, consumer);
        }),
    };
  }

  loadCheckpoint(lease: string): Promise<string | undefined> {
    return loadFenceCheckpoint(this.store.pool, lease);
  }

  private async sizesOf(rolloutId: string): Promise<{ snapshot: number; changes: number }> {
    let sizes = this.sizes.get(rolloutId);
    if (!sizes) {
      const { rows } = await query<{ snapshot: string | null; changes: string | null }>(
        this.store.pool,
        `SELECT (SELECT length(doc) FROM rollout_stats WHERE rollout_id = $1) AS snapshot,
          (SELECT sum(length(doc)) FROM rollout_stats_changes WHERE rollout_id = $1) AS changes`,
        [rolloutId],
      );
      sizes = { snapshot: Number(rows[0]?.snapshot ?? 0), changes: Number(rows[0]?.changes ?? 0) };
      this.sizes.set(rolloutId, sizes);
    }
    return sizes;
  }

  async close(): Promise<void> {}
}
