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
    const db = new SqliteStore(":memory:");
    return { store: new SqliteDecisionStore(db, { factsBlockSize }), close: () => db.close() };
  });
}

describe("SQLite decision facts", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("seals and indexes a database written before the facts existed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-facts-"));
    dirs.push(dir);
    const path = join(dir, "loopwise.db");
    const first = new SqliteStore(path);
    await writeRichLog(new SqliteDecisionStore(first, { factsBlockSize: 2 }));
    first.db.exec(
      `DROP TABLE decision_codes; DROP TABLE decision_facts_blocks;
       DROP TABLE decision_activations; DROP TABLE slot_rewards; DROP TABLE decision_facts_meta;`,
    );
    await first.close();
    const again = new SqliteStore(path);
    const store = new SqliteDecisionStore(again, { factsBlockSize: 2 });
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await expectFactsMatchScan(store, { windowMs: 1_000, defaultReward: 0, aggregation: "sum" }, 1_003_900, {});
    await again.close();
  });

  it("a scan sees the decisions of its start exactly once while appends seal blocks", async () => {
    const db = new SqliteStore(":memory:");
    const store = new SqliteDecisionStore(db, { factsBlockSize: 3 });
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
    const db = new SqliteStore(":memory:");
    const store = new SqliteDecisionStore(db, { factsBlockSize: 3 });
    await store.appendMany([0, 1, 2, 3].map((i) => makeDecision({ decisionId: `x${i}`, timestamp: 10 + i })));
    const dup = [makeDecision({ decisionId: "y" }), makeDecision({ decisionId: "x0" })];
    await expect(store.appendMany(dup)).rejects.toThrow();
    expect(await store.count()).toBe(4);
    await expectFactsMatchScan(store, DEFAULT_JOIN, 9_000_000, {});
    await db.close();
  });
});
