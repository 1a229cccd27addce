import { FencedOut } from "../../rollout/rollout-store.js";
import { inTransaction, type PgClient, type PgPool, query } from "./pool.js";

/**
 * The fencing rows of the duties that write PostgreSQL (`rollout_fences`, migration 5: one row per lease name, with
 * the highest token that wrote and the duty's stream checkpoint). Shared by the rollout duty's and the
 * dashboard fold's stores, and the policy store's fenced saves (row `learner:<policyId>`), so all fence alike.
 */

/**
 * Raises the lease's fence to `token` inside the caller's transaction, or throws FencedOut when a newer token
 * already wrote: the row lock orders racing holders, so a stale holder's whole transaction rolls back.
 */
export async function raiseFence(client: PgClient, lease: string, token: number): Promise<void> {
  const raised = await client.query(
    `INSERT INTO rollout_fences (name, fence) VALUES ($1, $2) ON CONFLICT (name)
     DO UPDATE SET fence = excluded.fence WHERE rollout_fences.fence <= excluded.fence`,
    [lease, token],
  );
  if (raised.rowCount !== 1) throw new FencedOut(lease, token);
}

/** Stores the duty's stream checkpoint beside its fence (call after `raiseFence` in the same transaction). */
export async function saveFenceCheckpoint(client: PgClient, lease: string, checkpoint: string): Promise<void> {
  await client.query("UPDATE rollout_fences SET checkpoint = $2 WHERE name = $1", [lease, checkpoint]);
}

/** The duty's last accepted stream checkpoint, if it wrote one. */
export async function loadFenceCheckpoint(pool: PgPool, lease: string): Promise<string | undefined> {
  const { rows } = await query<{ checkpoint: string | null }>(
    pool,
    "SELECT checkpoint FROM rollout_fences WHERE name = $1",
    [lease],
  );
  return rows[0]?.checkpoint ?? undefined;
}

/**
 * Raises the lease's fence to `token`, then runs `work`, in one transaction: all of it commits, or nothing
 * does and FencedOut (a newer token wrote) or the storage error is thrown.
 */
export async function fencedTransaction<T>(
  pool: PgPool,
  lease: string,
  token: number,
  work: (client: PgClient) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (client) => {
    await raiseFence(client, lease, token);
    return work(client);
  });
}
