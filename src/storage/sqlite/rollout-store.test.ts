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

describe("SqliteRolloutStore: a data dir from before the tracker's rows", () => {
  it("reads a counters snapshot stored whole in the document and moves it to rows", async () => {
    const path = join(dir, "legacy.db");
    const t = new ArmTracker({ sessionTtlMs: 1000, clickWindowMs: 1000 });
    t.onDecision({ rolloutId: "a", arm: "candidate", userId: "u1", sessionId: "s1", timestamp: 5, decisionId: "d" });
    t.onDecision({ rolloutId: "a", arm: "incumbent", userId: "u2", sessionId: "s2", timestamp: 6 });
    const db = new Database(path);
    db.exec("CREATE TABLE rollout_stats (rollout_id TEXT PRIMARY KEY, doc TEXT NOT NULL)");
    db.prepare("INSERT INTO rollout_stats VALUES (?, ?)").run("a", JSON.stringify(t.snapshot()));
    db.close();
    const store = new SqliteRolloutStore(path);
    expect(await store.loadStats("a")).toEqual(t.snapshot());
    await store.close();
    const reopened = new SqliteRolloutStore(path);
    expect(await reopened.loadStats("a")).toEqual(t.snapshot());
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare("SELECT doc FROM rollout_stats").get() as { doc: string };
    raw.close();
    const doc = JSON.parse(row.doc) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(["counters"]);
    await reopened.close();
  });
});
