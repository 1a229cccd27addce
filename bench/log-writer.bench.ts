import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { createEngine } from "../src/app/engine.js";
import { ManualClock } from "../src/core/clock.js";
import { Xoshiro128 } from "../src/core/rng.js";
import type { DecisionRecord } from "../src/decisions/decision-record.js";
import type { EncodedDecision } from "../src/decisions/log-ops.js";
import { readLoggedDecisions } from "./support/logged-decisions.js";
import { mainThreadTimes } from "./support/thread-cpu.js";

/**
 * `npm run bench -- log-writer`: the decision log's writer alone, as the serial rank path drives it: one
 * decision op awaited at a time (and a reward for 1 in 10), on a file database, the writer in its thread.
 * The decisions are real records: the engine ranks `--decisions=N` (default 2,000) requests into a log first,
 * and those rows are replayed. Reports per decision: main-thread CPU (handoff + results), the writer thread's
 * CPU, wall µs. `--ab=OTHER_TREE` replays the same ops through that tree's writer too, interleaved in small chunks
 * in the same run, `--rounds=N` times (the machine is shared: compare the ratios). Each tree encodes the
 * decisions with its own record codec first, in the transit form rank hands its writer (their distributions as
 * the Float64Arrays rank gives), so a codec change shows in the writer's figures; the encoding's main-thread µs
 * and bytes per transit record are printed (the bytes on disk: MiB per 10k decisions).
 */
interface Variant {
  name: string;
  open: (path: string) => Promise<WriterHandle>;
  encode: (record: DecisionRecord) => Uint8Array;
}

interface WriterHandle {
  writer: {
    write(op: unknown): Promise<unknown>;
    stats(): { threadCpuSeconds?: number };
    ready(): Promise<void>;
  };
  close(): Promise<void>;
}

async function variantOf(tree: string, name: string): Promise<Variant> {
  const url = pathToFileURL(join(resolve(tree), "src/storage/sqlite/database.ts")).href;
  const { SqliteStore } = (await import(url)) as {
    SqliteStore: new (path: string) => WriterHandle;
  };
  const codec = pathToFileURL(join(resolve(tree), "src/storage/sqlite/record-codec.ts")).href;
  const { encodeRecord } = (await import(codec)) as {
    encodeRecord: (r: DecisionRecord, transit?: boolean) => Uint8Array;
  };
  return {
    name,
    // The transit form, as the SQLite decision store hands rank's records to the writer (decision-store-sqlite.ts):
    // the writer's thread codes the distributions.
    encode: (r) => encodeRecord(r, true),
    open: async (path) => {
      const store = new SqliteStore(path);
      await store.writer.ready();
      return store;
    },
  };
}

interface Recorded {
  op: EncodedDecision;
  record: DecisionRecord;
}

/** Ranks `n` requests through a real engine and returns the logged decisions, as records and as ops' payloads. */
async function recordDecisions(n: number): Promise<Recorded[]> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-bench-logw-src-"));
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const engine = await createEngine({ dataDir: dir, clock, logger: pino({ level: "silent" }) });
  const rng = new Xoshiro128(7);
  await engine.upsertItems({
    items: Array.from({ length: 1000 }, (_, i) => ({ id: `sku-${i}`, category: `c${i % 20}` })),
  });
  for (let i = 0; i < n; i++) {
    const start = Math.floor(rng.next() * 900);
    const candidates = Array.from({ length: 100 }, (_, c) => ({
      id: `sku-${start + c}`,
      features: { discount: Math.round(rng.next() * 50), badge: rng.next() < 0.2 ? "new" : "none" },
    }));
    const context = { device: i % 3 === 0 ? "mobile" : "desktop", hour: i % 24, basket: Math.round(rng.next() * 200) };
    await engine.rank({ userId: `user-${i}`, sessionId: `s-${i}`, context, candidates, slots: 10 });
    clock.advance(20);
  }
  await engine.close();
  return readLoggedDecisions(dir).map(({ op, record }) => ({ op: { ...op, bytes: new Uint8Array(0) }, record }));
}

/** The decisions encoded by one tree's codec: main-thread µs per record (best of 3 passes) and mean bytes. */
function encodeWith(v: Variant, recorded: Recorded[]): { ops: EncodedDecision[]; encodeUs: number; bytes: number } {
  let best = Number.POSITIVE_INFINITY;
  let ops: EncodedDecision[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const t0 = process.cpuUsage();
    ops = recorded.map(({ op, record }) => ({ ...op, bytes: v.encode(record) }));
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / recorded.length);
  }
  const bytes = ops.reduce((a, o) => a + o.bytes.length, 0) / ops.length;
  return { ops, encodeUs: best, bytes };
}

interface Round {
  mainUs: number;
  writerUs: number;
  wallUs: number;
  /** The 99th percentile of one decision's write, awaited (wall µs). */
  p99Us: number;
  /** The data dir's bytes (database and WAL, after close) per 10,000 decisions. */
  bytesPer10k: number;
}

/** One tree's writer during a replay: its store and what its chunks measured. */
interface Replayer {
  store: WriterHandle;
  dir: string;
  mainNs: number;
  wallMs: number;
  writer0: number;
  each: number[];
}

/**
 * Replays the decisions through every variant's writer at once, interleaved in chunks of `chunk` decisions (the
 * order of the variants alternating), so that each sees the same machine load; a busy shared machine swings whole
 * runs by ±30 %. Main-thread CPU is read around each chunk, the writer threads' CPU from their own counters.
 */
async function replay(variants: Variant[], perVariant: EncodedDecision[][], chunk = 20): Promise<Round[]> {
  const replayers: Replayer[] = [];
  for (const v of variants) {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-bench-logw-"));
    const store = await v.open(join(dir, "loopwise.db"));
    replayers.push({ store, dir, mainNs: 0, wallMs: 0, writer0: store.writer.stats().threadCpuSeconds ?? 0, each: [] });
  }
  const n = perVariant[0]?.length ?? 0;
  for (let at = 0, c = 0; at < n; at += chunk, c++) {
    const order =
      c % 2 === 0 ? replayers.map((r, k) => [r, k] as const) : replayers.map((r, k) => [r, k] as const).reverse();
    for (const [r, k] of order) {
      const main0 = mainThreadTimes();
      const t0 = performance.now();
      await writeChunk(r, (perVariant[k] as EncodedDecision[]).slice(at, at + chunk), at);
      r.wallMs += performance.now() - t0;
      r.mainNs += (mainThreadTimes()?.cpuNs ?? Number.NaN) - (main0?.cpuNs ?? Number.NaN);
    }
  }
  const rounds: Round[] = [];
  for (const r of replayers) {
    const writerUs = (((r.store.writer.stats().threadCpuSeconds ?? 0) - r.writer0) * 1e6) / n;
    const p99Us = r.each.sort((a, b) => a - b)[Math.floor(0.99 * n)] ?? Number.NaN;
    await r.store.close();
    const bytes = readdirSync(r.dir).reduce((a, f) => a + statSync(join(r.dir, f)).size, 0);
    const bytesPer10k = (bytes * 10_000) / n;
    rounds.push({ mainUs: r.mainNs / 1000 / n, writerUs, wallUs: (r.wallMs * 1000) / n, p99Us, bytesPer10k });
    rmSync(r.dir, { recursive: true, force: true });
  }
  return rounds;
}

/** Each decision awaited alone, as a serial rank does, and a reward for 1 in 10. */
async function writeChunk(r: Replayer, decisions: EncodedDecision[], offset: number): Promise<void> {
  const { writer } = r.store;
  let i = offset;
  for (const d of decisions) {
    // A fresh copy per write: the writer takes the bytes over (transferred to its thread).
    const w0 = performance.now();
    await writer.write({ kind: "decision", decision: { ...d, bytes: d.bytes.slice() } });
    r.each.push((performance.now() - w0) * 1000);
    if (i++ % 10 === 0) {
      const reward = { rewardId: `r-${d.decisionId}`, decisionId: d.decisionId, value: 1, type: "click" };
      await writer.write({
        kind: "reward",
        reward: { ...reward, timestamp: d.timestamp + 5, source: "api" },
        windowMs: 60_000,
      });
    }
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const n = Number(arg("decisions") ?? 2000);
  const rounds = Number(arg("rounds") ?? 3);
  const other = arg("ab");
  if (other && !existsSync(join(other, "src/storage/sqlite/database.ts"))) throw new Error(`--ab: no tree at ${other}`);
  // A ref'd timer for the whole run: an older tree's store could let the process exit while its close awaited an
  // unreferenced thread (fixed in wal-checkpointer.ts `stop`), ending the bench after its first round.
  const keepAlive = setInterval(() => {}, 60_000);
  const recorded = await recordDecisions(n);
  const variants = [await variantOf(new URL("..", import.meta.url).pathname, "this tree")];
  if (other) variants.push(await variantOf(other, other));
  const encoded = new Map(variants.map((v) => [v.name, encodeWith(v, recorded)]));
  for (const [name, e] of encoded)
    console.log(`${name}: encode ${e.encodeUs.toFixed(1)} µs CPU per record, ${e.bytes.toFixed(0)} bytes per record`);
  const results = new Map<string, Round[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : variants.slice().reverse();
    const measured = await replay(
      order,
      order.map((v) => encoded.get(v.name)?.ops ?? []),
    );
    order.forEach((v, k) => {
      const round = measured[k] as Round;
      results.get(v.name)?.push(round);
      console.log(
        `${v.name} round ${r + 1}: main thread ${round.mainUs.toFixed(0)} µs, writer thread ${round.writerUs.toFixed(0)} µs, wall ${round.wallUs.toFixed(0)} µs per decision (p99 of a decision's write ${round.p99Us.toFixed(0)} µs); ${(round.bytesPer10k / 2 ** 20).toFixed(1)} MiB per 10k decisions`,
      );
    });
  }
  const summary = Object.fromEntries(
    [...results].map(([name, rs]) => [
      name,
      {
        mainUs: median(rs.map((x) => x.mainUs)),
        writerUs: median(rs.map((x) => x.writerUs)),
        wallUs: median(rs.map((x) => x.wallUs)),
        bytesPer10k: median(rs.map((x) => x.bytesPer10k)),
      },
    ]),
  );
  console.log("medians per decision:", JSON.stringify(summary));
  const ratios = other ? pairRatios(results.get(variants[0]?.name ?? "") ?? [], results.get(other) ?? []) : undefined;
  if (ratios) console.log(`this tree / ${other}, median of the rounds' ratios: ${JSON.stringify(ratios)}`);
  const encoding = Object.fromEntries(
    [...encoded].map(([name, e]) => [name, { encodeUs: e.encodeUs, bytes: e.bytes }]),
  );
  clearInterval(keepAlive);
  return { setup: { decisions: n, rounds, ab: other ?? null }, encoding, summary, ratios };
}

/** Round by round (each pair ran interleaved), this tree's figure over the other's; the median of those ratios. */
function pairRatios(mine: Round[], theirs: Round[]): Record<keyof Round, number> {
  const ratio = (k: keyof Round) =>
    Number(median(mine.map((m, i) => m[k] / (theirs[i]?.[k] ?? Number.NaN))).toFixed(3));
  const keys = ["mainUs", "writerUs", "wallUs", "p99Us", "bytesPer10k"] as const;
  return Object.fromEntries(keys.map((k) => [k, ratio(k)])) as Record<keyof Round, number>;
}
