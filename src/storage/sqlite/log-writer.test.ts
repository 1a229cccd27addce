import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isLoopwiseError } from "../../core/errors.js";
import { makeDecision, realisticDecision } from "../../decisions/test-fixtures.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionStore } from "./decision-store-sqlite.js";
import { SqliteEventLog } from "./event-log-sqlite.js";
import type { WorkerLogWriter } from "./log-writer.js";

const codeOf = (e: unknown) => (isLoopwiseError(e) ? e.code : String(e));

describe("the log writer thread", () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  const open = (options: ConstructorParameters<typeof SqliteStore>[1] = {}, dir?: string) => {
    const d = dir ?? mkdtempSync(join(tmpdir(), "loopwise-writer-"));
    if (!dir) dirs.push(d);
    const store = new SqliteStore(join(d, "loopwise.db"), options);
    stores.push(store);
    return { store, dir: d, decisions: new SqliteDecisionStore(store) };
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("commits concurrent writes in batches, each readable on the main connection once acknowledged", async () => {
    const { store, decisions } = open();
    const events = new SqliteEventLog(store);
    const writes = Array.from({ length: 60 }, (_, i) => decisions.append(realisticDecision(i)));
    const ingest = events.append([
      { eventId: "e1", type: "view", userId: "u", timestamp: 1 },
      { eventId: "e1", type: "view", userId: "u", timestamp: 1 },
    ]);
    expect(await Promise.all(writes)).toEqual(Array(60).fill(true));
    expect((await ingest).duplicates).toEqual(["e1"]);
    // Every event new: acknowledged through the shared ring (log-writer-channel.ts ALL_INSERTED), same answer.
    const fresh = Array.from({ length: 3 }, (_, i) => ({ eventId: `f${i}`, type: "view", userId: "u", timestamp: 2 }));
    expect(await store.writer.write({ kind: "events", events: fresh })).toEqual([0, 1, 2]);
    const more = [...fresh, { eventId: "f9", type: "view", userId: "u", timestamp: 2 }];
    expect(await store.writer.write({ kind: "events", events: more })).toEqual([3]);
    expect(await decisions.get("dec-59")).toEqual({ decision: realisticDecision(59), rewards: [] });
    expect(await decisions.count()).toBe(60);
    const stats = store.writer.stats();
    expect(stats.writes).toBe(63);
    expect(stats.batches).toBeLessThan(63); // grouped
    expect(stats.queued).toBe(0);
  });

  it("rejects only the failing write of a batch", async () => {
    const { decisions } = open();
    await decisions.append(makeDecision({ decisionId: "taken" }));
    const [ok1, dup, ok2] = await Promise.allSettled([
      decisions.append(makeDecision({ decisionId: "one" })),
      decisions.appendMany([makeDecision({ decisionId: "fresh" }), makeDecision({ decisionId: "taken" })]),
      decisions.append(makeDecision({ decisionId: "two" })),
    ]);
    expect([ok1.status, dup.status, ok2.status]).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((dup as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(await decisions.get("fresh")).toBeUndefined(); // the failed op left nothing half-written
    expect(await decisions.count()).toBe(3);
  });

  it("refuses writes past its bounds at once with WRITE_QUEUE_FULL, and accepts again once drained", async () => {
    const { decisions } = open({ queue: { maxWrites: 5 } });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => decisions.append(makeDecision({ decisionId: `q${i}` }))),
    );
    expect(results.map((r) => r.status)).toEqual([...Array(5).fill("fulfilled"), ...Array(3).fill("rejected")]);
    expect(codeOf((results[7] as PromiseRejectedResult).reason)).toBe("WRITE_QUEUE_FULL");
    expect(await decisions.append(makeDecision({ decisionId: "later" }))).toBe(true);
    expect(await decisions.count()).toBe(6);

    // ~9.6 KB records (dense distributions): three fit, the fourth does not.
    const bytes = open({ queue: { maxBytes: 30_000 } }).decisions;
    const big = await Promise.allSettled([0, 1, 2, 3].map((i) => bytes.append(realisticDecision(i))));
    expect(big.filter((r) => r.status === "rejected").length).toBeGreaterThan(0);
    expect(big[0]?.status).toBe("fulfilled");
  });

  it("checkpoints the WAL into the database file after acknowledging, once about 1,000 pages were written", async () => {
    const { store, dir, decisions } = open();
    const file = join(dir, "loopwise.db");
    await decisions.append(realisticDecision(0));
    const before = statSync(file).size;
    // ~9.6 KB records: ~3 pages each, and the table's and indexes' leaves once a batch.
    await Promise.all(Array.from({ length: 100 }, (_, i) => decisions.append(realisticDecision(i + 1))));
    expect(statSync(file).size).toBe(before); // below the threshold: still only in the WAL
    // The checkpoint is asked for after the batch crossing ~1,000 pages was acknowledged (~430 records in) and
    // runs on the checkpointer's own thread and connection (wal-checkpointer.ts), beside later commits.
    for (let i = 0; i < 5; i++) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => decisions.append(realisticDecision(101 + i * 100 + k))));
    }
    // A wait, not a timing: the checkpointer's thread starts at the first request.
    for (let i = 0; i < 1000 && statSync(file).size <= before + 200 * 4096; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(statSync(file).size).toBeGreaterThan(before + 200 * 4096); // copied in by the checkpoint
    expect(store.writer.stats().queued).toBe(0);
  });

  it("with a group commit delay, gathers writes posted after a commit while more may come, and commits at once otherwise", async () => {
    // A delay far longer than a commit, so what is asserted is which writes share a commit, not how fast one is.
    const delayMs = 1500;
    const { store, decisions } = open({ groupCommitMs: delayMs });
    await store.ready(); // the thread's start (a worker's module load) is not what the races below time
    let moreMayCome = true;
    store.writer.waitForMoreWrites?.(() => moreMayCome);
    const late = (ms: number) => new Promise<"late">((r) => setTimeout(() => r("late"), ms));
    const append = (id: string) => decisions.append(makeDecision({ decisionId: id }));
    // After start the thread sleeps on the doorbell: a write is committed at once.
    expect(await Promise.race([Promise.all([append("g0"), append("g1")]), late(delayMs / 2)])).toEqual([true, true]);
    // Within the delay after that commit, three writes posted in three turns go into one commit. (The pause lets
    // the thread finish that commit's round first: a write it finds then is committed at once, on its own.)
    await late(100);
    const before = store.writer.stats().batches;
    const writes = [append("g2")];
    await late(5);
    writes.push(append("g3"));
    await late(5);
    writes.push(append("g4"));
    expect(await Promise.all(writes)).toEqual([true, true, true]);
    expect(store.writer.stats().batches - before).toBe(1);
    // The thread waits again; when no more may come (every client waits on one), a write ends the delay.
    moreMayCome = false;
    expect(await Promise.race([append("g5"), late(delayMs / 2)])).toBe(true);
    // A delay that brings nothing puts the thread back to sleep on the doorbell: after a pause, a lone write is
    // committed when posted, even while more may come.
    moreMayCome = true;
    await late(delayMs + 200);
    expect(await Promise.race([append("g6"), late(delayMs / 2)])).toBe(true);
    expect(await decisions.count()).toBe(7);
  });

  it("drains the queue on close: every accepted write is in the file", async () => {
    const { store, dir, decisions } = open();
    const writes = Array.from({ length: 30 }, (_, i) => decisions.append(makeDecision({ decisionId: `c${i}` })));
    await store.close();
    expect(await Promise.all(writes)).toEqual(Array(30).fill(true));
    const again = open({ writer: "inline" }, dir);
    expect(await again.decisions.count()).toBe(30);
  });

  it("rejects pending writes when its thread dies, refuses new ones and reports unhealthy", async () => {
    const { store, decisions } = open();
    await decisions.append(makeDecision({ decisionId: "before" }));
    const pending = decisions.append(makeDecision({ decisionId: "lost" }));
    await (store.writer as WorkerLogWriter).terminate();
    await expect(pending).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(decisions.append(makeDecision({ decisionId: "after" }))).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(store.health()).toMatchObject({ ok: false });
    expect(await decisions.get("before")).toBeDefined();
  });
});
