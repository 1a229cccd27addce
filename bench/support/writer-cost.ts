import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import type { EncodedDecision } from "../../src/decisions/log-ops.js";
import { encodeRecord } from "../../src/storage/sqlite/record-codec.js";
import { readLoggedDecisions } from "./logged-decisions.js";
import { inProcessRankBody, loadInProcessCatalog } from "./rank-requests.js";

/**
 * Where the log writer's thread spends its CPU per decision, measured on this thread (no worker, no wake-ups):
 * real decisions of `bench rank`'s workload (the engine ranks `--decisions=N` requests into a log, their records
 * are re-encoded in the transit form rank hands the writer), replayed through a tree's `LogApplier` on a file
 * database one commit per decision (a serial rank's batches) with a reward for 1 in 10, and the applier's parts
 * timed alone: the transit coding, the bare INSERTs with and without a commit each; and the same ops through the
 * tree's writer thread, each awaited (what the thread adds: wake-ups, messages, colder caches).
 * Thread CPU from /proc/thread-self/schedstat, best of `--passes` (default 3). `--ab=TREE` runs the same for
 * another checkout, alternating passes.
 *   node --import tsx bench/support/writer-cost.ts [--decisions=2000] [--passes=3] [--ab=/tmp/base-tree]
 */
const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const N = Number(flag("decisions") ?? 2000);
const PASSES = Number(flag("passes") ?? 3);

const threadCpuNs = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);

interface Applier {
  commit(ops: readonly unknown[]): { ok: boolean; error?: unknown }[];
  maintain(): boolean;
}

interface Tree {
  name: string;
  store: (path: string) => {
    writer: { write(op: unknown): Promise<unknown>; stats(): { threadCpuSeconds?: number }; ready(): Promise<void> };
    close(): Promise<void>;
  };
  applier: (db: Database.Database) => Applier;
  migrate: (db: Database.Database) => void;
  storedRecord: (b: Uint8Array) => Uint8Array;
}

async function treeAt(dir: string): Promise<Tree> {
  const at = (p: string) => pathToFileURL(join(dir, p)).href;
  const { LogApplier } = await import(at("src/storage/sqlite/log-applier.ts"));
  const { migrate } = await import(at("src/storage/sqlite/migrations.ts"));
  const { storedRecord } = await import(at("src/storage/sqlite/record-transit.ts"));
  const { SqliteStore } = await import(at("src/storage/sqlite/database.ts"));
  const store = (path: string) => new SqliteStore(path);
  return { name: dir, applier: (db) => new LogApplier(db), migrate, storedRecord, store };
}

async function decisions(n: number): Promise<EncodedDecision[]> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-writer-cost-src-"));
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const engine = await createEngine({ dataDir: dir, clock, logger: pino({ level: "silent" }) });
  const rng = new Xoshiro128(7);
  await loadInProcessCatalog(engine, rng);
  for (let i = 0; i < n; i++) {
    const res = await engine.rank(inProcessRankBody(rng, i));
    clock.advance(20);
    if (rng.next() < 0.1) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]?.id });
  }
  await engine.close();
  return readLoggedDecisions(dir).map(({ op, record }) => ({ ...op, bytes: encodeRecord(record, true) }));
}

function openDb(tree: Tree): { db: Database.Database; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-writer-cost-"));
  const db = new Database(join(dir, "loopwise.db"));
  db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  // As the writer's connection: no automatic checkpoint (a thread of its own runs them, wal-checkpointer.ts).
  db.pragma("wal_autocheckpoint = 0");
  tree.migrate(db);
  return { db, dir };
}

/** µs of this thread's CPU per decision for `f` over the decisions. */
function timed(f: () => void): number {
  const t0 = threadCpuNs();
  f();
  return (threadCpuNs() - t0) / 1000 / N;
}

function fullPath(tree: Tree, ds: EncodedDecision[], rewards = true): number {
  const { db, dir } = openDb(tree);
  const applier = tree.applier(db);
  const us = timed(() => {
    ds.forEach((d, i) => {
      const [r] = applier.commit([{ kind: "decision", decision: { ...d, bytes: d.bytes.slice() } }]);
      if (!r?.ok) throw new Error(String(r?.error));
      if (rewards && i % 10 === 0) {
        const reward = { rewardId: `r-${d.decisionId}`, decisionId: d.decisionId, value: 1, type: "click" };
        applier.commit([
          { kind: "reward", reward: { ...reward, timestamp: d.timestamp + 5, source: "api" }, windowMs: 60_000 },
        ]);
      }
      applier.maintain();
    });
  });
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return us;
}

/** The same ops through the tree's writer thread, each awaited (a serial rank): that thread's CPU per decision. */
async function threaded(tree: Tree, ds: EncodedDecision[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-writer-cost-"));
  const store = tree.store(join(dir, "loopwise.db"));
  await store.writer.ready();
  const w0 = store.writer.stats().threadCpuSeconds ?? 0;
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i] as EncodedDecision;
    await store.writer.write({ kind: "decision", decision: { ...d, bytes: d.bytes.slice() } });
    if (i % 10 === 0) {
      const reward = { rewardId: `r-${d.decisionId}`, decisionId: d.decisionId, value: 1, type: "click" };
      await store.writer.write({
        kind: "reward",
        reward: { ...reward, timestamp: d.timestamp + 5, source: "api" },
        windowMs: 60_000,
      });
    }
  }
  const us = (((store.writer.stats().threadCpuSeconds ?? 0) - w0) * 1e6) / ds.length;
  // Ref'd while closing: an older tree's store could let the process exit mid-close (wal-checkpointer.ts `stop`).
  const keepAlive = setInterval(() => {}, 60_000);
  await store.close();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
  return us;
}

/**
 * Every tree's applier at once on its own database, the decisions in chunks of `chunk` alternating between the
 * trees (order flipped each chunk): on a shared machine whole passes see different loads, alternate chunks the
 * same. Thread CPU µs per decision per chunk; returns each tree's chunks.
 */
function interleaved(trees: Tree[], ds: EncodedDecision[], chunk = 50): number[][] {
  const opened = trees.map((t) => {
    const o = openDb(t);
    return { ...o, applier: t.applier(o.db) };
  });
  const perChunk: number[][] = trees.map(() => []);
  for (let at = 0, c = 0; at < ds.length; at += chunk, c++) {
    const order = c % 2 === 0 ? opened.map((_, k) => k) : opened.map((_, k) => opened.length - 1 - k);
    for (const k of order) {
      const { applier } = opened[k] as (typeof opened)[number];
      const t0 = threadCpuNs();
      for (let i = at; i < Math.min(at + chunk, ds.length); i++) {
        const d = ds[i] as EncodedDecision;
        applier.commit([{ kind: "decision", decision: { ...d, bytes: d.bytes.slice() } }]);
        if (i % 10 === 0) {
          const reward = { rewardId: `r-${d.decisionId}`, decisionId: d.decisionId, value: 1, type: "click" };
          applier.commit([
            { kind: "reward", reward: { ...reward, timestamp: d.timestamp + 5, source: "api" }, windowMs: 60_000 },
          ]);
        }
        applier.maintain();
      }
      (perChunk[k] as number[]).push((threadCpuNs() - t0) / 1000 / Math.min(chunk, ds.length - at));
    }
  }
  for (const { db, dir } of opened) {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return perChunk;
}

/** The decisions' rows alone (no facts, no rewards): each in a commit of its own, or all in one. */
function bareInserts(tree: Tree, ds: EncodedDecision[], stored: Uint8Array[], commitEach: boolean): number {
  const { db, dir } = openDb(tree);
  const insert = db.prepare(
    `INSERT INTO decisions (decision_id, ts, user_id, policy_id, activated, activated_at, record)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(decision_id) DO NOTHING`,
  );
  const one = (d: EncodedDecision, i: number) =>
    insert.run(d.decisionId, d.timestamp, d.userId, d.policyId, 0, null, Buffer.from(stored[i] as Uint8Array));
  const each = db.transaction(one);
  const all = db.transaction(() => {
    for (let i = 0; i < ds.length; i++) one(ds[i] as EncodedDecision, i);
  });
  const us = timed(() => {
    if (!commitEach) return all();
    for (let i = 0; i < ds.length; i++) each(ds[i] as EncodedDecision, i);
  });
  if (commitEach) walPages.push(statSync(join(dir, "loopwise.db-wal")).size / (4096 + 24) / ds.length);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return us;
}

/** WAL frames written per decision by the bare inserts committed one by one. */
const walPages: number[] = [];

async function main() {
  const trees = [await treeAt(resolve(import.meta.dirname, "../.."))];
  const other = flag("ab");
  if (other) trees.push(await treeAt(resolve(other)));
  const ds = await decisions(N);
  const stored = ds.map((d) => (trees[0] as Tree).storedRecord(d.bytes));
  console.log(
    `${N} decisions, transit ${mean(ds.map((d) => d.bytes.length))} B, stored ${mean(stored.map((s) => s.length))} B`,
  );
  const best = new Map<string, Record<string, number>>();
  for (const tree of trees) fullPath(tree, ds.slice(0, 500)); // warm-up: compiled code in every pass
  for (let pass = 0; pass < PASSES; pass++) {
    for (const tree of pass % 2 === 0 ? trees : trees.slice().reverse()) {
      const row = {
        threaded: await threaded(tree, ds),
        full: fullPath(tree, ds),
        fullNoRewards: fullPath(tree, ds, false),
        transitCoding: timed(() => {
          for (const d of ds) tree.storedRecord(d.bytes);
        }),
        insertsCommitEach: bareInserts(tree, ds, stored, true),
        insertsOneCommit: bareInserts(tree, ds, stored, false),
      };
      const b = best.get(tree.name) ?? {};
      for (const [k, v] of Object.entries(row)) b[k] = Math.min(b[k] ?? Number.POSITIVE_INFINITY, v);
      best.set(tree.name, b);
      console.log(`pass ${pass + 1} ${tree.name}: ${fmt(row)}`);
    }
  }
  for (const [name, b] of best) console.log(`best of ${PASSES}, ${name}: ${fmt(b)}`);
  if (trees.length === 2) {
    // The applier alone, chunks alternating between the trees: median of the per-chunk ratios.
    const ratios: number[] = [];
    const medians: number[][] = [[], []];
    for (let pass = 0; pass < PASSES; pass++) {
      const [a, b] = interleaved(trees, ds) as [number[], number[]];
      for (let i = 0; i < a.length; i++) ratios.push((a[i] as number) / (b[i] as number));
      medians[0]?.push(median(a));
      medians[1]?.push(median(b));
    }
    console.log(
      `applier alone, interleaved chunks of 50 (${PASSES} passes): median µs per decision this ${median(medians[0] as number[]).toFixed(1)}, other ${median(medians[1] as number[]).toFixed(1)}; median of chunk ratios this/other ${median(ratios).toFixed(3)}`,
    );
  }
  console.log(`WAL frames per decision committed alone: ${walPages.map((p) => p.toFixed(2)).join(" ")}`);
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
const fmt = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ") + " µs CPU per decision";

await main();
