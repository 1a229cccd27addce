import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DecisionFacts } from "../../decisions/decision-facts.js";
import { decisionStoreContract, expectFactsMatchScan, writeRichLog } from "../../decisions/decision-store.contract.js";
import { DEFAULT_JOIN } from "../../decisions/join-config.js";
import { makeDecision } from "../../decisions/test-fixtures.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionStore } from "./decision-store-sqlite.js";

// The contract again with tiny facts blocks, so sealed blocks, the pending tail and later activations mix.
for (const factsBlockSize of [1, 4]) {
  decisionStoreContract(`sqlite, facts blocks of ${factsBlockSize}`, async () => {
    const db = new SqliteStore(":memory:", { factsBlockSize });
    return { store: new SqliteDecisionStore(db), close: () => db.close() };
  });
}

describe("SQLite decision facts", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("a restarted writer picks up the unsealed tail and keeps sealing (writer thread on a file)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-facts-"));
    dirs.push(dir);
    const path = join(dir, "loopwise.db");
    const first = new SqliteStore(path, { factsBlockSize: 4 });
    await writeRichLog(new SqliteDecisionStore(first)); // 6 decisions: one block of 4 and a tail of 2
    await first.close();
    const again = new SqliteStore(path, { factsBlockSize: 4 });
    const store = new SqliteDecisionStore(again);
    for (let i = 0; i < 3; i++) await store.append(makeDecision({ decisionId: `late${i}`, timestamp: 1_000_030 + i }));
    const blocks = again.db.prepare("SELECT first_seq, last_seq FROM decision_facts_blocks ORDER BY first_seq").raw();
    expect(blocks.all()).toEqual([
      [1, 4],
      [5, 8],
    ]);
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await expectFactsMatchScan(store, { windowMs: 1_000, defaultReward: 0, aggregation: "sum" }, 1_003_900, {});
    await again.close();
  });

  it("reads a block's values again from the log when a record mid-block has a distribution it cannot copy", async () => {
    // The writer decodes no distribution while it copies them all as the block holds them (facts-writer.ts
    // `append`); the rich log's 5th decision has 2 candidates and 4 values: the first 4 have no values read yet.
    const db = new SqliteStore(":memory:", { factsBlockSize: 8 });
    const store = new SqliteDecisionStore(db);
    await writeRichLog(store);
    for (let i = 0; i < 2; i++) await store.append(makeDecision({ decisionId: `n${i}`, timestamp: 1_000_050 + i }));
    expect(db.db.prepare("SELECT count(*) FROM decision_facts_blocks").pluck().get()).toBe(1);
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await db.close();
  });

  it("a scan sees the decisions of its start exactly once while appends seal blocks", async () => {
    const db = new SqliteStore(":memory:", { factsBlockSize: 3 });
    const store = new SqliteDecisionStore(db);
    for (let i = 0; i < 20; i++) await store.append(makeDecision({ decisionId: `a${i}`, timestamp: 1000 + i }));
    const seen: number[] = [];
    let appended = 0;
    for await (const batch of store.scanFacts() as AsyncIterable<DecisionFacts>) {
      seen.push(...batch.timestamp);
      // Seals the tail (18..20) together with decisions the scan must not see.
      for (let k = 0; k < 5; k++) await store.append(makeDecision({ decisionId: `b${appended++}`, timestamp: 500 }));
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => 1000 + i));
    expect(appended).toBeGreaterThan(5); // the log grew (and sealed) between batches
    expect(await store.count()).toBe(20 + appended);
    await db.close();
  });

  it("appendMany writes all decisions in one transaction, or none", async () => {
    const db = new SqliteStore(":memory:", { factsBlockSize: 3 });
    const store = new SqliteDecisionStore(db);
    await store.appendMany([0, 1, 2, 3].map((i) => makeDecision({ decisionId: `x${i}`, timestamp: 10 + i })));
    const dup = [makeDecision({ decisionId: "y" }), makeDecision({ decisionId: "x0" })];
    await expect(store.appendMany(dup)).rejects.toThrow();
    expect(await store.count()).toBe(4);
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await db.close();
  });

  it("keeps no facts of a bulk append that failed beside others in one batch", async () => {
    const db = new SqliteStore(":memory:", { factsBlockSize: 3 });
    const store = new SqliteDecisionStore(db);
    await store.append(makeDecision({ decisionId: "taken", timestamp: 5 }));
    // One batch (one event-loop turn): the bulk op's first decision is written, then rolled back with it.
    const settled = await Promise.allSettled([
      store.append(makeDecision({ decisionId: "a", timestamp: 6 })),
      store.appendMany([makeDecision({ decisionId: "ghost", timestamp: 7 }), makeDecision({ decisionId: "taken" })]),
      store.append(makeDecision({ decisionId: "b", timestamp: 8 })),
    ]);
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    for (let i = 0; i < 4; i++) await store.append(makeDecision({ decisionId: `c${i}`, timestamp: 9 + i }));
    expect(await store.count()).toBe(7);
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await db.close();
  });
});
