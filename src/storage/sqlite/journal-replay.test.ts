import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { isLoopwiseError } from "../../core/errors.js";
import { realisticDecision } from "../../decisions/test-fixtures.js";
import { SqliteStore } from "./database.js";
import { DecisionJournal } from "./decision-journal.js";
import { SqliteDecisionStore, transitDecision } from "./decision-store-sqlite.js";

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const open = async (dir: string, options: ConstructorParameters<typeof SqliteStore>[1] = { journal: true }) => {
  const store = new SqliteStore(join(dir, "loopwise.db"), options);
  stores.push(store);
  await store.ready();
  return { store, decisions: new SqliteDecisionStore(store) };
};
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "loopwise-replay-"));
  dirs.push(d);
  return d;
};
const journalFiles = (dir: string) => readdirSync(join(dir, "decision-journal")).filter((n) => n.endsWith(".jnl"));

describe("the decision journal behind the SQLite log", () => {
  it("acknowledges a fresh decision before its commit, serves it from memory until then, and commits it behind", async () => {
    const dir = tempDir();
    const { store, decisions } = await open(dir);
    let early: unknown;
    // Another connection holds the write lock: the writer's commit waits (busy_timeout) until it is released.
    const blocker = new Database(join(dir, "loopwise.db"));
    blocker.prepare("BEGIN IMMEDIATE").run();
    try {
      // As a policy hands it over: distributions as Float64Array (the codec stores them as plain numbers).
      const record = realisticDecision(7);
      const asRanked = {
        ...record,
        slots: record.slots.map((s) => ({ ...s, probabilities: Float64Array.from(s.probabilities) })),
      };
      expect(await decisions.append(asRanked, { freshId: true })).toBe(true);
      early = await decisions.get(record.decisionId);
      expect(early).toEqual({ decision: record, rewards: [] });
      expect(await decisions.count()).toBe(0); // not committed yet: scans and counts see it once it is
      expect(store.writer.stats().queued).toBe(1);
    } finally {
      blocker.prepare("ROLLBACK").run();
      blocker.close();
    }
    await store.close();
    const reopened = await open(dir);
    expect(reopened.store.journalReplay).toEqual({ segments: 0, decisions: 0, present: 0, torn: 0 });
    const committed = await reopened.decisions.get("dec-7");
    expect(committed).toEqual({ decision: realisticDecision(7), rewards: [] });
    expect(JSON.stringify(early)).toBe(JSON.stringify(committed)); // read before and after the commit: the same
    expect(journalFiles(dir)).toEqual([]); // committed, closed cleanly: nothing left to replay
  });

  it("holds a journaled decision's bytes until its commit, not its record (the record's object graph is collectable)", async () => {
    const dir = tempDir();
    const { store, decisions } = await open(dir);
    const blocker = new Database(join(dir, "loopwise.db"));
    blocker.prepare("BEGIN IMMEDIATE").run();
    try {
      // Built and appended in a function of its own, so no frame of this test keeps the record reachable.
      const appended = async () => {
        const record = realisticDecision(11);
        expect(await decisions.append(record, { freshId: true })).toBe(true);
        return new WeakRef(record);
      };
      const ranked = await appended();
      await new Promise((r) => setImmediate(r)); // a WeakRef keeps its target alive until the microtasks drain
      setFlagsFromString("--expose-gc");
      (runInNewContext("gc") as () => void)();
      expect(store.writer.stats().queued).toBe(1); // its commit has not landed
      expect(ranked.deref()).toBeUndefined(); // ~450 objects a decision would otherwise outlive young-gen collections
      expect(await decisions.get("dec-11")).toEqual({ decision: realisticDecision(11), rewards: [] });
    } finally {
      blocker.prepare("ROLLBACK").run();
      blocker.close();
    }
  });

  it("answers at the journal write only while fewer than 8 writes wait for their commit, then waits for the commit", async () => {
    const dir = tempDir();
    const { decisions } = await open(dir);
    const blocker = new Database(join(dir, "loopwise.db"));
    blocker.prepare("BEGIN IMMEDIATE").run();
    let ninth: Promise<boolean> | undefined;
    let ninthDone = false;
    try {
      for (let i = 0; i < 8; i++) expect(await decisions.append(realisticDecision(i), { freshId: true })).toBe(true);
      // The writer is behind (8 waiting): the next rank waits for its commit, the back pressure on the event loop.
      ninth = decisions.append(realisticDecision(8), { freshId: true });
      void ninth.then(() => {
        ninthDone = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(ninthDone).toBe(false);
    } finally {
      blocker.prepare("ROLLBACK").run();
      blocker.close();
    }
    expect(await ninth).toBe(true);
    expect(await decisions.count()).toBe(9);
  });

  it("replays at the next start what a crashed run journaled and did not commit, keeping what it committed once", async () => {
    const dir = tempDir();
    const first = await open(dir, { journal: false });
    await first.decisions.append(realisticDecision(1)); // committed before the crash
    await first.store.close();
    // What a run killed before its commits leaves: journal frames, none of them committed.
    const crashed = new DecisionJournal(join(dir, "decision-journal"));
    for (const i of [1, 2, 3]) crashed.append(transitDecision(realisticDecision(i)));
    crashed.close(); // its run is over; nothing it wrote committed, so its file stays
    const { store, decisions } = await open(dir);
    expect(store.journalReplay).toEqual({ segments: 1, decisions: 3, present: 1, torn: 0 });
    for (const i of [1, 2, 3]) {
      expect(await decisions.get(`dec-${i}`)).toEqual({ decision: realisticDecision(i), rewards: [] });
    }
    expect(await decisions.count()).toBe(3);
    expect(journalFiles(dir)).toEqual([]);
  });

  it("fails the start with the segment's path when a journaled decision cannot be committed, and keeps the file", async () => {
    const dir = tempDir();
    const crashed = new DecisionJournal(join(dir, "decision-journal"));
    const unreadable = transitDecision(realisticDecision(1));
    unreadable.bytes = new Uint8Array([0xee, 1, 2, 3]); // no record this version can read
    crashed.append(unreadable);
    crashed.close();
    const store = new SqliteStore(join(dir, "loopwise.db"), { journal: true });
    stores.push(store);
    const failed = await store.ready().catch((e: unknown) => e);
    expect(isLoopwiseError(failed) && failed.message).toMatch(
      /replaying the decision journal .*\.jnl into the log failed/,
    );
    expect(journalFiles(dir)).toHaveLength(1);
  });

  it("refuses a fresh decision with nothing journaled when the writer's queue is full, and ids a client chose wait for their commit", async () => {
    const dir = tempDir();
    const { store, decisions } = await open(dir, { journal: true, queue: { maxWrites: 0 } });
    const refused = await decisions.append(realisticDecision(1), { freshId: true }).catch((e: unknown) => e);
    expect(isLoopwiseError(refused) && refused.code).toBe("WRITE_QUEUE_FULL");
    expect(journalFiles(dir)).toEqual([]);
    expect(store.writer.stats().journal).toBeDefined(); // journaling: the refusal came before the journal write
    await store.close();
    // A client's id may be a duplicate: the insert decides (insert-or-keep), so the append waits for the commit.
    const again = await open(dir);
    expect(await again.decisions.append(realisticDecision(2))).toBe(true);
    expect(await again.decisions.append(realisticDecision(2))).toBe(false);
    expect(journalFiles(dir)).toEqual([]);
  });

  it("is off for durability fsync (a journal write would need its own fsync) and for in-memory logs", async () => {
    const dir = tempDir();
    const { store } = await open(dir, { journal: true, durability: "fsync" });
    expect(store.writer.stats().journal).toBeUndefined();
    const memory = new SqliteStore(":memory:", { journal: true });
    stores.push(memory);
    await memory.ready();
    expect(memory.writer.stats().journal).toBeUndefined();
  });
});
