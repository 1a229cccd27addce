import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { defaultPolicyResolver, runEvaluation } from "../../app/evaluate.js";
import { ManualClock } from "../../core/clock.js";
import type { DecisionRecord, DecisionWithRewards, RewardRecord } from "../../decisions/decision-record.js";
import { expectFactsMatchScan } from "../../decisions/decision-store.contract.js";
import { DEFAULT_JOIN } from "../../decisions/join-config.js";
import { classifyReward } from "../../decisions/reward-join.js";
import { makeDecision } from "../../decisions/test-fixtures.js";
import { simulateDecisions } from "../../ope/simulate-decisions.js";
import { MemoryDecisionStore } from "../memory/decision-store-memory.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionStore } from "./decision-store-sqlite.js";
import { SCHEMA_VERSION } from "./migrations.js";

/** The layout before versioning, as released: JSON bodies, no facts tables, user_version 0. */
const OLD_SCHEMA = `
CREATE TABLE decisions (decision_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, user_id TEXT NOT NULL,
  policy_id TEXT NOT NULL, activated INTEGER NOT NULL, activated_at INTEGER, body TEXT NOT NULL);
CREATE INDEX decisions_ts ON decisions(ts);
CREATE TABLE rewards (reward_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL REFERENCES decisions(decision_id),
  ts INTEGER NOT NULL, value REAL NOT NULL, item_id TEXT, type TEXT NOT NULL, source TEXT NOT NULL,
  late INTEGER NOT NULL, ignored INTEGER NOT NULL);
CREATE INDEX rewards_decision ON rewards(decision_id);
CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
  ts INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE items (id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL, body TEXT NOT NULL);
`;

/** Writes the old layout with the old store's SQL (decision bodies as JSON text). */
class OldLayoutWriter {
  constructor(private readonly db: Database.Database) {
    db.exec(OLD_SCHEMA);
  }
  append(r: DecisionRecord): void {
    this.db
      .prepare(
        "INSERT INTO decisions (decision_id, ts, user_id, policy_id, activated, activated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        r.decisionId,
        r.timestamp,
        r.userId,
        r.policy.id,
        r.activated ? 1 : 0,
        r.activatedAt ?? null,
        JSON.stringify(r),
      );
  }
  activate(id: string, at: number): void {
    this.db
      .prepare("UPDATE decisions SET activated = 1, activated_at = ? WHERE decision_id = ? AND activated = 0")
      .run(at, id);
  }
  reward(r: RewardRecord, windowMs: number): void {
    const row = this.db
      .prepare("SELECT ts, activated, activated_at FROM decisions WHERE decision_id = ?")
      .get(r.decisionId) as { ts: number; activated: number; activated_at: number | null } | undefined;
    if (!row || this.db.prepare("SELECT 1 FROM rewards WHERE reward_id = ?").get(r.rewardId)) return;
    const flags = classifyReward(
      {
        timestamp: row.ts,
        activated: row.activated === 1,
        ...(row.activated_at === null ? {} : { activatedAt: row.activated_at }),
      },
      r.timestamp,
      windowMs,
    );
    this.db
      .prepare(
        "INSERT INTO rewards (reward_id, decision_id, ts, value, item_id, type, source, late, ignored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        r.rewardId,
        r.decisionId,
        r.timestamp,
        r.value,
        r.itemId ?? null,
        r.type,
        r.source,
        flags.late ? 1 : 0,
        flags.ignored ? 1 : 0,
      );
  }

  /** The log as the old store read it: JSON bodies with the activation columns, and the reward rows. */
  readBack(): DecisionWithRewards[] {
    const rows = this.db
      .prepare("SELECT decision_id, activated, activated_at, body FROM decisions ORDER BY ts, rowid")
      .all() as {
      decision_id: string;
      activated: number;
      activated_at: number | null;
      body: string;
    }[];
    return rows.map((row) => {
      const decision = JSON.parse(row.body) as DecisionRecord;
      decision.activated = row.activated === 1;
      if (row.activated_at !== null) decision.activatedAt = row.activated_at;
      const rewards = (
        this.db
          .prepare("SELECT * FROM rewards WHERE decision_id = ? ORDER BY ts, rowid")
          .all(row.decision_id) as Record<string, unknown>[]
      ).map((r) => ({
        rewardId: r.reward_id as string,
        decisionId: r.decision_id as string,
        value: r.value as number,
        type: r.type as string,
        timestamp: r.ts as number,
        // Migration 3: rows written before arrival times were kept arrive as they happened.
        receivedAt: r.ts as number,
        source: r.source as "api" | "event",
        late: r.late === 1,
        ignored: r.ignored === 1,
        ...(r.item_id === null ? {} : { itemId: r.item_id as string }),
      }));
      return { decision, rewards };
    });
  }
}

async function readAll(store: SqliteDecisionStore): Promise<DecisionWithRewards[]> {
  const out: DecisionWithRewards[] = [];
  for await (const batch of store.scan({ batchSize: 7 })) out.push(...batch);
  return out;
}

describe("migrating a data dir of the JSON layout (user_version 0)", () => {
  const dirs: string[] = [];
  const oldDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-migrate-"));
    dirs.push(dir);
    return join(dir, "loopwise.db");
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("reads every record back identically, odd ones included, and keeps appending", async () => {
    const path = oldDataDir();
    const raw = new Database(path);
    const old = new OldLayoutWriter(raw);
    const records: DecisionRecord[] = [
      makeDecision({ decisionId: "plain" }),
      makeDecision({
        decisionId: "rich",
        timestamp: 1_000_100,
        candidates: [
          { id: "a", features: { price: 10.25, brand: "acme", sale: true, __proto__x: false }, score: -0.5 },
          { id: "ü-ñ 😀", features: {} },
          { id: "c", score: 0 },
        ],
        slots: [
          { position: 0, itemId: "ü-ñ 😀", index: 1, propensity: 0.1 + 0.2, probabilities: [0.7, 0.1 + 0.2, 0] },
          { position: 1, itemId: "a", index: 0, propensity: 1, probabilities: [1, 0, 0, 0, 0, 0, 0, 0] },
        ],
        rollout: { id: "ro", stage: 2, arm: "candidate" },
        modelVersion: "m7",
        fallbacks: ["features_unavailable"],
        activated: false,
      }),
      // A JSON body with a null probability (a non-finite number printed by JSON.stringify), an extra slot
      // field, a candidate with an own "__proto__" feature and no sessionId: kept exactly as JSON read them.
      JSON.parse(
        `{"decisionId":"odd","timestamp":1000200,"userId":"u2","context":{},"features":{},"candidates":[{"id":"x","features":{"__proto__":1}}],
          "slots":[{"position":0,"itemId":"x","index":0,"propensity":1,"probabilities":[null],"note":"v0"}],
          "policy":{"id":"p","type":"t","version":3},"baselineItemId":null,"activated":true,"activatedAt":1000200,"candidateSource":"catalog","fallbacks":[]}`,
      ) as DecisionRecord,
    ];
    for (const r of records) old.append(r);
    old.activate("rich", 1_000_150);
    old.reward(
      { rewardId: "r1", decisionId: "rich", value: 2, itemId: "a", type: "click", timestamp: 1_000_160, source: "api" },
      60_000,
    );
    old.reward(
      { rewardId: "r2", decisionId: "plain", value: 1, type: "click", timestamp: 1_000_010, source: "event" },
      60_000,
    );
    const expected = old.readBack();
    // Facts tables of a later v0 release, with a block the migration must not trust.
    raw.exec(`CREATE TABLE decision_facts_blocks (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL,
        min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, decisions INTEGER NOT NULL, facts BLOB NOT NULL);
      INSERT INTO decision_facts_blocks VALUES (1, 2, 0, 9999999, 2, x'00');
      CREATE TABLE decision_facts_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO decision_facts_meta VALUES ('backfilled', 1);`);
    raw.close();

    const store = new SqliteStore(path, { writer: "inline" });
    expect(store.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const decisions = new SqliteDecisionStore(store);
    expect(await readAll(decisions)).toEqual(expected);
    for (const e of expected) expect(await decisions.get(e.decision.decisionId)).toEqual(e);
    expect(Object.hasOwn((await decisions.get("odd"))?.decision.candidates[0]?.features ?? {}, "__proto__")).toBe(true);
    // (Without "odd": its facts read the null as 0, as arithmetic on the JSON record would.)
    await expectFactsMatchScan(decisions, DEFAULT_JOIN, 9_000_000, { to: 1_000_200 });
    expect(await decisions.append(makeDecision({ decisionId: "after", timestamp: 1_000_300 }))).toBe(true);
    expect((await decisions.get("after"))?.decision.decisionId).toBe("after");
    await store.close();

    // Opening again migrates nothing more and reads the same log.
    const again = new SqliteStore(path, { writer: "inline" });
    expect(await readAll(new SqliteDecisionStore(again))).toHaveLength(expected.length + 1);
    await again.close();
  });

  it("gives the same IPS, SNIPS and DR estimates as the old layout on the same log", async () => {
    const path = oldDataDir();
    const raw = new Database(path);
    const old = new OldLayoutWriter(raw);
    const start = Date.UTC(2026, 0, 1);
    const sim = simulateDecisions({ decisions: 400, candidates: 5, slots: 3, seed: 9, start, spacing: 1000 });
    sim.decisions.forEach((d, i) => {
      old.append(i % 6 === 0 ? { ...d, activated: false } : { ...d, activatedAt: d.timestamp });
    });
    sim.decisions.forEach((d, i) => {
      if (i % 12 === 0) old.activate(d.decisionId, d.timestamp + 300);
    });
    for (const r of sim.rewards) old.reward(r, 60_000);
    // The old layout read as the old store read it, into a reference store.
    const reference = new MemoryDecisionStore();
    const oldLog = old.readBack();
    raw.close();
    for (const { decision } of oldLog) await reference.append(decision);
    for (const { rewards } of oldLog) for (const r of rewards) await reference.addReward(r, 60_000);

    const store = new SqliteStore(path, { writer: "inline" });
    const migrated = new SqliteDecisionStore(store);
    const joinConfig = { windowMs: 60_000, defaultReward: 0, aggregation: "earliest" as const };
    const evaluate = (decisions: MemoryDecisionStore | SqliteDecisionStore) =>
      runEvaluation(
        { logs: "loopwise:", targets: ["uniform"], estimators: ["ips", "snips", "dr"], bootstrap: 0 },
        { decisions, joinConfig, clock: new ManualClock(Date.UTC(2027, 0, 1)), resolvePolicy: defaultPolicyResolver() },
      );
    const before = await evaluate(reference);
    const after = await evaluate(migrated);
    const estimates = (r: typeof before) => r.targets.map((t) => [t.target, t.estimates]);
    expect(before.n).toBeGreaterThan(1000);
    expect(before.targets.flatMap((t) => t.estimates.map((e) => e.value)).every(Number.isFinite)).toBe(true);
    expect(estimates(after)).toEqual(estimates(before));
    expect(after.n).toBe(before.n);
    expect(after.onPolicy).toEqual(before.onPolicy);
    await store.close();
  });
});
