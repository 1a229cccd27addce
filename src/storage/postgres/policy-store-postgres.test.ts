import { describe, expect, it, vi } from "vitest";
import type { PolicySnapshot } from "../../bandit/base-policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "../../bandit/policy-types.js";
import { isBinarySnapshot } from "../../bandit/snapshot-binary.js";
import { snapshotJson } from "../../bandit/snapshot-codec.js";
import { SnapshotEncoder } from "../snapshot-encoder.js";
import { migrate } from "./migrations.js";
import { PG_SNAPSHOT_PART_BYTES } from "./policy-snapshot-parts.js";
import { PostgresPolicyStore } from "./policy-store-postgres.js";
import { createPool, type PgPool } from "./pool.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "./test-database.js";

/** Migration 9 (binary snapshots in `snapshot_bytes`) against rows the versions before wrote (JSON text). */
const schemas = testSchemas();
const run = postgresAvailable("the PostgreSQL policy snapshot formats");

/** The default policy (hybrid: packed covariances per arm) after a few updates on a few arms. */
function learnedDefault(id: string, arms = 5) {
  const policy = createPolicy(id, DEFAULT_POLICY_SPEC);
  for (let i = 0; i < Math.max(12, arms); i++) {
    const input = {
      context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 },
      candidates: [{ id: `item-${i % arms}`, features: { price: i, discount: 0.1 } }],
    };
    policy.update({ input, index: 0, position: 0, reward: i % 3 === 0 ? 1 : 0, propensity: 0.5, placedBefore: [] });
  }
  return policy;
}

/** The policy's exact state as text (every double as its bytes, in base64): equal means bit for bit. */
const exact = (snapshot: PolicySnapshot) => snapshotJson(restorePolicy(snapshot).snapshot());

describe.skipIf(!run)("PostgreSQL policy snapshots (migration 9)", () => {
  it("a JSON row written before the migration restores to the same policy and is rewritten binary on the next save", async () => {
    const schema = schemas.name();
    const { pool } = createPool({ url: POSTGRES_TEST_URL as string, schema, max: 2 });
    const policy = learnedDefault("old");
    const before = policy.snapshot();
    try {
      await migrate(pool, schema, 8);
      // The row as the PostgreSQL policy store wrote it up to migration 8: the snapshot's JSON as text.
      await pool.query(
        `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot)
         VALUES ($1, $2, $3, $4, 10, 10, $5)`,
        [before.id, before.type, before.version, before.progress.updates, JSON.stringify(before)],
      );
    } finally {
      await pool.end();
    }
    const connection = await schemas.open(schema); // opening migrates to the newest
    const store = new PostgresPolicyStore(connection);
    const loaded = await store.load("old");
    expect(loaded?.savedAt).toBe(10);
    expect(exact(loaded!.snapshot)).toBe(exact(before));
    expect((await store.list()).map((s) => exact(s.snapshot))).toEqual([exact(before)]);

    const restored = restorePolicy(loaded!.snapshot);
    await store.save(restored.snapshot(), 20);
    const row = await storedRow(connection.pool, "old");
    expect(row.snapshot).toBeNull();
    expect(row.parts).toBe(1);
    expect(isBinarySnapshot(row.bytes!)).toBe(true);
    expect(row.bytes!.length).toBeLessThan(JSON.stringify(before).length / 2);
    const again = await store.load("old");
    expect(again?.savedAt).toBe(20);
    expect(exact(again!.snapshot)).toBe(exact(before));
  });

  it("a fenced save rewrites an old JSON row binary, and a refused one leaves it as it was", async () => {
    const schema = schemas.name();
    const connection = await schemas.open(schema);
    const store = new PostgresPolicyStore(connection);
    const old = learnedDefault("p").snapshot();
    await connection.pool.query(
      `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot)
       VALUES ($1, $2, $3, $4, 1, 1, $5)`,
      [old.id, old.type, old.version, old.progress.updates, JSON.stringify(old)],
    );
    await connection.pool.query("INSERT INTO rollout_fences (name, fence) VALUES ('learner:p', 7)");
    await expect(store.save(old, 2, { fence: 6 })).rejects.toThrow(/refused/);
    expect((await storedRow(connection.pool, "p")).bytes).toBeNull();
    await store.save(old, 3, { fence: 7 });
    const row = await storedRow(connection.pool, "p");
    expect(row.snapshot).toBeNull();
    expect(isBinarySnapshot(row.bytes!)).toBe(true);
    expect(exact((await store.load("p"))!.snapshot)).toBe(exact(old));
  });

  it("a snapshot larger than a part is stored in parts, handed over to the encoder's thread, and read back exactly", async () => {
    const connection = await schemas.open();
    const store = new PostgresPolicyStore(connection);
    const policy = learnedDefault("big", 120); // ~120 arms of ~17 KB: two parts
    const expected = exact(policy.snapshot());
    await store.save(policy.snapshot(), 1, { handOver: true });
    const row = await storedRow(connection.pool, "big");
    expect(row.parts).toBe(Math.ceil(row.bytes!.length / PG_SNAPSHOT_PART_BYTES));
    expect(row.parts).toBeGreaterThan(1);
    expect(exact((await store.load("big"))!.snapshot)).toBe(expected);
    // A smaller snapshot of the same policy leaves no part of the larger one behind.
    await store.save(learnedDefault("big", 2).snapshot(), 2, { handOver: true });
    expect((await storedRow(connection.pool, "big")).parts).toBe(1);
    const { rows } = await connection.pool.query("SELECT part FROM policy_snapshot_parts WHERE id = 'big'");
    expect(rows).toHaveLength(1);
    expect(exact((await store.load("big"))!.snapshot)).toBe(exact(learnedDefault("big", 2).snapshot()));
    expect(await store.delete("big")).toBe(true);
    expect((await connection.pool.query("SELECT 1 FROM policy_snapshot_parts")).rowCount).toBe(0);
    await store.close();
  });

  it("a large snapshot is decoded on the encoder's thread; one that cannot be decoded rejects the load, and the next loads", async () => {
    const connection = await schemas.open();
    const store = new PostgresPolicyStore(connection);
    const decodeOffThread = vi.spyOn(SnapshotEncoder.prototype, "decodeBase64Parts");
    try {
      const big = learnedDefault("big", 120);
      const small = learnedDefault("small", 2);
      await store.save(big.snapshot(), 1);
      await store.save(small.snapshot(), 1);
      expect(exact((await store.load("big"))!.snapshot)).toBe(exact(big.snapshot()));
      expect(decodeOffThread).toHaveBeenCalledTimes(1); // the small one decodes in place (below a thread's cost)
      expect(exact((await store.load("small"))!.snapshot)).toBe(exact(small.snapshot()));
      expect(decodeOffThread).toHaveBeenCalledTimes(1);
      expect((await store.list()).map((s) => exact(s.snapshot))).toEqual([
        exact(big.snapshot()),
        exact(small.snapshot()),
      ]);
      expect(decodeOffThread).toHaveBeenCalledTimes(2);

      // The first part's magic overwritten: not a snapshot. The load rejects (no half-decoded policy) and says why.
      await connection.pool.query(
        "UPDATE policy_snapshot_parts SET bytes = overlay(bytes placing '\\x585858'::bytea from 1) WHERE id = 'big' AND part = 0",
      );
      await expect(store.load("big")).rejects.toThrow(/not a binary policy snapshot/);
      await store.save(big.snapshot(), 2);
      expect(exact((await store.load("big"))!.snapshot)).toBe(exact(big.snapshot()));
    } finally {
      decodeOffThread.mockRestore();
      await store.close();
    }
  });

  it("a row holds exactly one form (the migration's CHECK)", async () => {
    const connection = await schemas.open();
    await expect(
      connection.pool.query(
        `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at) VALUES ('x', 't', 1, 0, 1, 1)`,
      ),
    ).rejects.toThrow(/policy_snapshots_one_form/);
  });
});

/** The row's JSON text, its part count, and its parts' bytes joined (null without parts). */
async function storedRow(
  pool: PgPool,
  id: string,
): Promise<{ snapshot: string | null; parts: number | null; bytes: Buffer | null }> {
  const { rows } = await pool.query<{ snapshot: string | null; parts: number | null }>(
    "SELECT snapshot, parts FROM policy_snapshots WHERE id = $1",
    [id],
  );
  const stored = await pool.query<{ bytes: Buffer }>(
    "SELECT bytes FROM policy_snapshot_parts WHERE id = $1 ORDER BY part",
    [id],
  );
  const bytes = stored.rows.length > 0 ? Buffer.concat(stored.rows.map((r) => r.bytes)) : null;
  return { ...rows[0]!, bytes };
}
