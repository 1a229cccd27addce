import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DecisionFacts } from "../../decisions/decision-facts.js";
import type { DecisionWithRewards } from "../../decisions/decision-record.js";
import { concatFacts } from "../../decisions/gather-facts.js";
import { dayOf, dayStart } from "../../decisions/log-retention.js";
import { realisticDecision } from "../../decisions/test-fixtures.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionStore } from "./decision-store-sqlite.js";
import { SqliteEventLog } from "./event-log-sqlite.js";
import { SqliteLogRetention } from "./log-retention-sqlite.js";

const DAY0 = dayOf(Date.UTC(2026, 11, 1));
const at = (d: number, ms = 12 * 3_600_000) => dayStart(DAY0 + d) + ms;
const HOUR = 3_600_000;

async function scanAll(store: SqliteDecisionStore, from?: number): Promise<DecisionWithRewards[]> {
  const out: DecisionWithRewards[] = [];
  for await (const page of store.scan(from === undefined ? {} : { from })) out.push(...page);
  return out;
}

async function factsOf(store: SqliteDecisionStore, from?: number): Promise<DecisionFacts> {
  const parts: DecisionFacts[] = [];
  for await (const f of store.scanFacts(from === undefined ? {} : { from })) parts.push(f);
  return concatFacts(parts);
}

/** 4 decisions a day for 4 days (one facts block each), a reward each, every other one activated later; events. */
async function writeDays(db: SqliteStore): Promise<void> {
  const decisions = new SqliteDecisionStore(db);
  const events = new SqliteEventLog(db);
  for (let d = 0; d < 4; d++) {
    for (let i = 0; i < 4; i++) {
      const id = `d${d}-${i}`;
      const record = { ...realisticDecision(d * 4 + i), decisionId: id, timestamp: at(d, i * HOUR) };
      await decisions.append({ ...record, activated: i % 2 === 0 });
      if (i % 2 === 1) await decisions.activate(id, record.timestamp + 1000);
      const itemId = record.slots[0]?.itemId as string;
      const t = record.timestamp + 2000;
      await decisions.addReward(
        {
          rewardId: `r-${id}`,
          decisionId: id,
          value: 1,
          itemId,
          type: "click",
          timestamp: t,
          receivedAt: t,
          source: "api",
        },
        600_000,
      );
    }
    await events.append(
      [0, 1, 2].map((i) => ({ eventId: `e${d}-${i}`, type: "view", userId: "u", timestamp: at(d, 2 * HOUR + i) })),
    );
  }
  // The unsealed tail: an old decision among them stays (only whole sealed blocks are deleted).
  await decisions.append({ ...realisticDecision(100), decisionId: "tail-old", timestamp: at(0) });
  await decisions.append({ ...realisticDecision(101), decisionId: "tail-new", timestamp: at(4) });
}

describe("SQLite log retention (writer thread)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("deletes whole expired facts blocks with their rewards and events; what is kept reads the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-retention-"));
    dirs.push(dir);
    const db = new SqliteStore(join(dir, "loopwise.db"), { factsBlockSize: 4 });
    try {
      await writeDays(db);
      const store = new SqliteDecisionStore(db);
      const keptFrom = dayStart(DAY0 + 2);
      const isKept = (d: DecisionWithRewards) =>
        d.decision.timestamp >= keptFrom || d.decision.decisionId.startsWith("tail");
      const keptBefore = (await scanAll(store)).filter(isKept);
      const factsBefore = await factsOf(store, keptFrom);

      const retention = new SqliteLogRetention(db.writer, db.db);
      const deleted = { decisions: 0, rewards: 0, events: 0 };
      for (let i = 0; i < 20; i++) {
        const step = await retention.step(keptFrom + HOUR); // inside day 2: day 2's block has newer decisions
        for (const [t, n] of Object.entries(step.deleted)) deleted[t as keyof typeof deleted] += n;
        if (step.done) break;
      }
      expect(deleted).toEqual({ decisions: 8, rewards: 8, events: 6 });
      expect(await scanAll(store)).toEqual(keptBefore);
      // The facts of the kept blocks (what offline evaluation reads) are unchanged.
      const factsAfter = await factsOf(store, keptFrom);
      expect(factsAfter).toEqual(factsBefore);
      const count = (sql: string) => db.db.prepare(sql).pluck().get() as number;
      expect(count("SELECT count(*) FROM decision_facts_blocks")).toBe(2);
      expect(count("SELECT count(*) FROM slot_rewards WHERE seq < 9")).toBe(0);
      expect(count("SELECT count(*) FROM decision_activations WHERE seq < 9")).toBe(0);
      expect(count("SELECT count(*) FROM rewards")).toBe(8);
      expect(count("SELECT count(*) FROM events")).toBe(6);
      expect(await retention.oldestRetained()).toEqual({ decisions: at(0), events: at(2, 2 * HOUR) }); // tail-old stays
      // A second pass finds nothing; freed pages are reused by new records.
      expect(await retention.step(keptFrom + HOUR)).toEqual({ deleted: {}, partitionsDropped: {}, done: true });
      const free = count("PRAGMA freelist_count");
      expect(free).toBeGreaterThan(0);
      for (let i = 0; i < 4; i++)
        await store.append({ ...realisticDecision(200 + i), decisionId: `new${i}`, timestamp: at(5) });
      expect(count("PRAGMA freelist_count")).toBeLessThan(free);
    } finally {
      await db.close();
    }
  });
});
