import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { policyStoreContract, trainedPolicy } from "../../bandit/policy-store.contract.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../../bandit/policy-types.js";
import { snapshotJson, snapshotTransfer } from "../../bandit/snapshot-codec.js";
import { SqliteStore } from "./database.js";
import { readStoredSnapshot, SNAPSHOT_PART_BYTES } from "./policy-snapshot-rows.js";
import { SqlitePolicyStore } from "./policy-store.js";

/**
 * Policy snapshots written by the log writer's thread (the engine's configuration: log-stores.ts), so a
 * periodic checkpoint does not stall the event loop: the same contract, and the same durability.
 */
const dir = mkdtempSync(join(tmpdir(), "loopwise-policy-writer-"));
const contractLogs: SqliteStore[] = [];
afterAll(async () => {
  for (const log of contractLogs) await log.close();
  rmSync(dir, { recursive: true, force: true });
});

let opened = 0;
function openStore(path = join(dir, `contract-${opened++}.db`)) {
  const log = new SqliteStore(path);
  return { log, policies: new SqlitePolicyStore(log.db, log.writer) };
}

policyStoreContract("sqlite through the log writer", async () => {
  const { log, policies } = openStore();
  await log.ready();
  contractLogs.push(log); // the contract closes the policy store only (a shared connection stays open)
  return policies;
});

describe("SqlitePolicyStore through the log writer's thread", () => {
  it("writes on the writer's thread, durable when save resolves, and survives reopening", async () => {
    const path = join(dir, "durable.db");
    const { log, policies } = openStore(path);
    await log.ready();
    const snapshot = trainedPolicy("kept").snapshot();
    const writesBefore = log.writer.stats().writes;
    await policies.save(snapshot, 1234);
    // By the writer's thread: the row (a small snapshot fits in it), then one prune step that found no older parts.
    expect(log.writer.stats().writes).toBe(writesBefore + 2);
    // Committed when save resolved: another connection (another process would do the same) reads it.
    const other = new Database(path, { readonly: true });
    const row = other.prepare("SELECT id, snapshot, saved_at FROM policy_snapshots WHERE id = 'kept'").get() as {
      id: string;
      snapshot: Uint8Array;
      saved_at: number;
    };
    expect(row.saved_at).toBe(1234);
    expect(snapshotJson(readStoredSnapshot(other, row.id, row.snapshot))).toBe(JSON.stringify(snapshot));
    other.close();
    await log.close();

    const reopened = openStore(path);
    await reopened.log.ready();
    const loaded = await reopened.policies.load("kept");
    expect(loaded?.savedAt).toBe(1234);
    expect(snapshotJson(loaded?.snapshot)).toBe(JSON.stringify(snapshot));
    await reopened.log.close();
  });

  it("takes a handed-over snapshot's arrays to the encoder's thread without copying, and stores it in parts", async () => {
    const { log, policies } = openStore();
    await log.ready();
    const policy = createPolicy("arms", DEFAULT_POLICY_SPEC); // hybrid: a full covariance per arm
    for (let i = 0; i < 40; i++) {
      const input = { context: { hour: i }, candidates: [{ id: `item-${i}`, features: { price: i + 0.25 } }] };
      policy.update({ input, index: 0, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
    }
    const expected = JSON.stringify(policy.snapshot());
    const snapshot = policy.snapshot();
    const buffers = snapshotTransfer(snapshot);
    expect(buffers.length).toBeGreaterThanOrEqual(80);
    const writesBefore = log.writer.stats().writes;
    await policies.save(snapshot, 5, { handOver: true });
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true); // transferred
    const parts = log.db.prepare("SELECT length(bytes) AS n FROM policy_snapshot_parts WHERE id = 'arms'").all() as {
      n: number;
    }[];
    // 40 arms of (64·65/2 + 64) doubles: more than two parts, each a commit of its own, then the row's.
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.every((p) => p.n <= SNAPSHOT_PART_BYTES)).toBe(true);
    expect(log.writer.stats().writes - writesBefore).toBeGreaterThanOrEqual(parts.length + 1);
    const row = log.db.prepare("SELECT length(snapshot) AS n FROM policy_snapshots WHERE id = 'arms'").get() as {
      n: number;
    };
    expect(row.n).toBe(16); // a reference to the parts
    expect(snapshotJson((await policies.load("arms"))?.snapshot)).toBe(expected);

    // The next save replaces the parts: the older ones are pruned once it is stored.
    policy.update({
      input: { context: {}, candidates: [{ id: "item-0" }] },
      index: 0,
      position: 0,
      reward: 0,
      propensity: 1,
      placedBefore: [],
    });
    await policies.save(policy.snapshot(), 6, { handOver: true });
    await policies.close(); // waits for the pruning
    const saves = log.db.prepare("SELECT DISTINCT save FROM policy_snapshot_parts WHERE id = 'arms'").all();
    expect(saves.length).toBe(1);
    await log.close();
  });

  it("lands snapshots in the order they were saved, whichever is ready first", async () => {
    const { log, policies } = openStore();
    await log.ready();
    const trained = (arms: number) => {
      const policy = createPolicy("ordered", DEFAULT_POLICY_SPEC);
      for (let i = 0; i < arms; i++) {
        const input = { context: { hour: i % 24 }, candidates: [{ id: `item-${i}`, features: { price: i } }] };
        policy.update({ input, index: 0, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
      }
      return policy;
    };
    // A large snapshot (300 arms) through the encoder's thread, then a small one of the same id not handed over
    // (the writer stores its JSON at once): the second must still land last.
    const first = policies.save(trained(300).snapshot(), 1, { handOver: true });
    const small = trained(1);
    const expected = JSON.stringify(small.snapshot());
    const second = policies.save(small.snapshot(), 2);
    await Promise.all([first, second]);
    const loaded = await policies.load("ordered");
    expect(loaded?.savedAt).toBe(2);
    expect(snapshotJson(loaded?.snapshot)).toBe(expected);
    // The first save's parts went with it: the second fits in its row.
    expect(log.db.prepare("SELECT count(*) FROM policy_snapshot_parts").pluck().get()).toBe(0);
    await log.close();
  });

  it("keeps the last whole snapshot when a save stopped between its parts and its row (a crash), and prunes them later", async () => {
    const { log, policies } = openStore();
    await log.ready();
    const kept = trainedPolicy("torn");
    await policies.save(kept.snapshot(), 1);
    // A save that wrote two parts and never its row, as a kill -9 between them leaves it.
    for (const part of [0, 1])
      await log.writer.write({ kind: "policySnapshotPart", id: "torn", save: 42, part, bytes: new Uint8Array(64) });
    const loaded = await policies.load("torn");
    expect(loaded?.savedAt).toBe(1);
    expect(snapshotJson(loaded?.snapshot)).toBe(JSON.stringify(kept.snapshot()));
    await policies.save(kept.snapshot(), 2); // its prune takes the torn save's parts
    expect(log.db.prepare("SELECT count(*) FROM policy_snapshot_parts WHERE id = 'torn'").pluck().get()).toBe(0);
    expect((await policies.load("torn"))?.savedAt).toBe(2);
    await log.close();
  });

  it("never lets a queued snapshot land after a later delete", async () => {
    const { log, policies } = openStore();
    await log.ready();
    const saving = policies.save(trainedPolicy("gone").snapshot(), 1);
    expect(await policies.delete("gone")).toBe(true);
    await saving;
    expect(await policies.load("gone")).toBeUndefined();
    expect(await policies.ids()).toEqual([]);
    await log.close();
  });
});
