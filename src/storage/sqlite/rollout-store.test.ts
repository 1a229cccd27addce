import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ArmTracker } from "../../rollout/arm-tracker.js";
import { rolloutStoreContract } from "../../rollout/rollout-store.contract.js";
import { SqliteRolloutStore } from "./rollout-store.js";

const dir = mkdtempSync(join(tmpdir(), "loopwise-rollout-store-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

rolloutStoreContract("sqlite", async () => {
  const path = join(dir, `store-${n++}.db`);
  return { store: new SqliteRolloutStore(path), reopen: async () => new SqliteRolloutStore(path) };
});

describe("SqliteRolloutStore: counters as a snapshot and changes", () => {
  it("reads a data dir's whole snapshot (the layout before changes) and applies later changes to it", async () => {
    const path = join(dir, "legacy.db");
    const t = new ArmTracker({ sessionTtlMs: 1000, clickWindowMs: 1000 });
    t.onDecision({ rolloutId: "a", arm: "candidate", userId: "u1", sessionId: "s1", timestamp: 5, decisionId: "d" });
    const db = new Database(path);
    db.exec("CREATE TABLE rollout_stats (rollout_id TEXT PRIMARY KEY, doc TEXT NOT NULL)");
    db.prepare("INSERT INTO rollout_stats VALUES (?, ?)").run("a", JSON.stringify(t.snapshot()));
    db.close();
    const store = new SqliteRolloutStore(path);
    const resumed = new ArmTracker({ sessionTtlMs: 1000, clickWindowMs: 1000 }, await store.loadStats("a"));
    expect(resumed.snapshot()).toEqual(t.snapshot());
    resumed.onDecision({ rolloutId: "a", arm: "incumbent", userId: "u2", sessionId: "s2", timestamp: 6 });
    await store.saveStats("a", resumed.pendingSave());
    await store.close();
    const reopened = new SqliteRolloutStore(path);
    expect(await reopened.loadStats("a")).toEqual(resumed.snapshot());
    await reopened.close();
  });

  it("folds the changes into the snapshot once they outweigh it, with the same result", async () => {
    const path = join(dir, "fold.db");
    const store = new SqliteRolloutStore(path);
    const t = new ArmTracker({ sessionTtlMs: 60_000, clickWindowMs: 60_000 });
    const raw = new Database(path, { readonly: true });
    const count = raw.prepare("SELECT count(*) AS n FROM rollout_stats_changes");
    const changeRows = () => (count.get() as { n: number }).n;
    let most = 0;
    for (let tick = 0; tick < 60; tick++) {
      for (let i = 0; i < 50; i++) {
        const n = tick * 50 + i;
        t.onDecision({ rolloutId: "a", arm: n % 2 ? "candidate" : "incumbent", userId: `user-${n}`, timestamp: n });
      }
      t.prune(tick * 50);
      await store.saveStats("a", t.pendingSave());
      most = Math.max(most, changeRows());
    }
    expect(changeRows()).toBeLessThan(most); // folded at least once
    expect(most).toBeGreaterThan(1); // and changes were rows before that
    expect(await store.loadStats("a")).toEqual(t.snapshot());
    raw.close();
    await store.close();
  });
});
