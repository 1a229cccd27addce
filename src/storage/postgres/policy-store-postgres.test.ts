import { describe, expect, it } from "vitest";
import type { PolicySnapshot } from "../../bandit/base-policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "../../bandit/policy-types.js";
import { isBinarySnapshot } from "../../bandit/snapshot-binary.js";
import { snapshotJson } from "../../bandit/snapshot-codec.js";
import { migrate } from "./migrations.js";
import { PostgresPolicyStore } from "./policy-store-postgres.js";
import { createPool, type PgPool } from "./pool.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "./test-database.js";

/** Migration 9 (binary snapshots in `snapshot_bytes`) against rows the versions before wrote (JSON text). */
const schemas = testSchemas();
const run = postgresAvailable("the PostgreSQL policy snapshot formats");

/** The default policy (hybrid: packed covariances per arm) after a few updates on a few arms. */
function learnedDefault(id: string) {
  const policy = createPolicy(id, DEFAULT_POLICY_SPEC);
  for (let i = 0; i < 12; i++) {
    const input = {
      context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 },
      candidates: [{ id: `item-${i % 5}`, features: { price: i, discount: 0.1 } }],
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

  it("a row holds exactly one form (the migration's CHECK)", async () => {
    const connection = await schemas.open();
    await expect(
      connection.pool.query(
        `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at) VALUES ('x', 't', 1, 0, 1, 1)`,
      ),
    ).rejects.toThrow(/policy_snapshots_one_form/);
  });
});

async function storedRow(pool: PgPool, id: string): Promise<{ snapshot: string | null; bytes: Buffer | null }> {
  const { rows } = await pool.query<{ snapshot: string | null; bytes: Buffer | null }>(
    "SELECT snapshot, snapshot_bytes AS bytes FROM policy_snapshots WHERE id = $1",
    [id],
  );
  return rows[0]!;
}
