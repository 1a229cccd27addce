import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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

  /** Three days of 60 decisions and a newer one; retention past the third: returns pages of the file's count. */
  async function retainLastDay(path: string): Promise<{ before: Pages; after: Pages; kept: number }> {
    const db = new SqliteStore(path, { factsBlockSize: 20 });
    try {
      const store = new SqliteDecisionStore(db);
      for (let d = 0; d < 4; d++) {
        for (let i = 0; i < 60; i++) {
          const record = { ...realisticDecision(d * 60 + i), decisionId: `d${d}-${i}`, timestamp: at(d, i * 60_000) };
          await store.append(record);
        }
      }
      // The last append's facts block is sealed after its ack (facts-writer.ts `sealDue`): the writer's thread
      // takes the next op only after that, so this op's ack means the file holds every page the appends made
      // (measured too early, a loaded machine saw the seal's pages land during retention: 1,112 -> 1,155 pages).
      await db.writer.write({ kind: "items", items: [] });
      const pages = (): Pages => ({
        total: db.db.pragma("page_count", { simple: true }) as number,
        free: db.db.pragma("freelist_count", { simple: true }) as number,
      });
      const kept = (await scanAll(store, dayStart(DAY0 + 3))).length;
      const before = pages();
      const retention = new SqliteLogRetention(db.writer, db.db);
      let steps = 0;
      while (!(await retention.step(dayStart(DAY0 + 3))).done) expect(++steps).toBeLessThan(100);
      expect(await scanAll(store)).toHaveLength(kept);
      return { before, after: pages(), kept };
    } finally {
      await db.close();
    }
  }
  interface Pages {
    total: number;
    free: number;
  }

  it("gives free pages back to the file system past a tenth of the file (new files: incremental auto_vacuum)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-retention-"));
    dirs.push(dir);
    const { before, after, kept } = await retainLastDay(join(dir, "loopwise.db"));
    expect(kept).toBe(60);
    // Three of four days went: the file shrank by about that much, and what stays free is a tenth at most.
    expect(after.total).toBeLessThan(before.total * 0.5);
    expect(after.free).toBeLessThanOrEqual(Math.floor(after.total * 0.1));
  });

  it("keeps free pages in a file made before incremental auto_vacuum (they are reused, not released)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-retention-"));
    dirs.push(dir);
    const path = join(dir, "loopwise.db");
    const old = new Database(path); // a table before the store's first open: auto_vacuum stays NONE
    old.exec("CREATE TABLE made_before (x)");
    old.close();
    const { before, after } = await retainLastDay(path);
    expect(after.total).toBe(before.total);
    expect(after.free).toBeGreaterThan(before.total * 0.5);
  });
});
