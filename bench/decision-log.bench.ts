import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Xoshiro128 } from "../src/core/rng.js";
import type { DecisionRecord } from "../src/decisions/decision-record.js";
import { PostgresDecisionStore } from "../src/storage/postgres/decision-store-postgres.js";
import { PostgresStore } from "../src/storage/postgres/postgres-store.js";
import { SqliteStore } from "../src/storage/sqlite/database.js";
import { SqliteDecisionStore } from "../src/storage/sqlite/decision-store-sqlite.js";
import { benchPostgresUrl } from "./support/bench-postgres.js";

/**
 * `npm run bench -- decision-log [--n=6000] [--clients=32] [--rate=300] [--paced-n=1500]`: the decision
 * log's write path as rank uses it, on a file data dir. Saturation: `clients` concurrent callers each
 * appending a fresh decision and awaiting its acknowledgement (durable: committed) before the next. Then
 * a fixed offered load of `rate` appends/s (open loop), where acknowledgement latency is not queueing. Records are realistic (100 candidates with 2
 * features, 10 slots with full distributions, fresh ids). Reports appends/s, acknowledgement latency
 * p50/p99/max, main-thread busy time per append (event-loop utilization: the writer thread's CPU is not
 * the event loop's), total process CPU per append, bytes per record (record column and file growth),
 * and the event loop's worst delay during the run. Depends only on `SqliteStore`, `SqliteDecisionStore`
 * and `append`, so the same file also measures the old path on an older checkout. With
 * LOOPWISE_BENCH_POSTGRES_URL (or LOOPWISE_TEST_POSTGRES_URL) set, the same runs on PostgreSQL follow
 * each SQLite run in the same process, with the appends/s ratio and PostgreSQL's bytes per decision.
 */
const numArg = (args: string[], name: string, fallback: number) =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);

/** A pool of distinct realistic records; each append is a shallow copy with a fresh id (as rank builds them). */
function recordPool(size: number): DecisionRecord[] {
  const rng = new Xoshiro128(7);
  return Array.from({ length: size }, (_, i) => {
    const candidates = Array.from({ length: 100 }, (_, j) => ({
      id: `sku-${(i * 37 + j * 11) % 20_000}`,
      features: { price: Math.round(rng.next() * 10_000) / 100, category: `cat-${(i + j) % 40}` },
    }));
    const placed = new Set<number>();
    const slots = Array.from({ length: 10 }, (_, position) => {
      const weights = candidates.map((_, j) => (placed.has(j) ? 0 : 0.2 + rng.next()));
      const sum = weights.reduce((a, b) => a + b, 0);
      const probabilities = weights.map((w) => w / sum);
      let index = Math.floor(rng.next() * 100);
      while (placed.has(index)) index = (index + 1) % 100;
      placed.add(index);
      const itemId = (candidates[index] as { id: string }).id;
      return { position, itemId, index, propensity: probabilities[index] as number, probabilities };
    });
    return {
      decisionId: "",
      timestamp: 0,
      userId: `user-${i}`,
      sessionId: `s-${i}`,
      context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 },
      features: { session_events: i % 9, ctr_1h: 0.125, last_category: `cat-${i % 40}`, price_mean: 42.5 },
      candidates,
      slots,
      policy: { id: "default", type: "thompson", version: 3 },
      baselineItemId: candidates[0]?.id ?? null,
      activated: true,
      activatedAt: 0,
      candidateSource: "request",
      fallbacks: [],
    };
  });
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

function recordBytes(store: SqliteStore): number {
  for (const column of ["record", "body"]) {
    try {
      return store.db.prepare(`SELECT avg(length(${column})) FROM decisions`).pluck().get() as number;
    } catch {}
  }
  return Number.NaN;
}

function fileBytes(dir: string): number {
  let total = 0;
  for (const f of ["loopwise.db", "loopwise.db-wal"]) {
    try {
      total += statSync(join(dir, f)).size;
    } catch {}
  }
  return total;
}

type Append = (record: DecisionRecord) => Promise<unknown>;

function freshRecord(pool: DecisionRecord[], i: number): DecisionRecord {
  const now = Date.now();
  return {
    ...(pool[i % pool.length] as DecisionRecord),
    decisionId: `dec-${i}-${now}`,
    timestamp: now,
    activatedAt: now,
  };
}

/** Runs `drive` while watching the event loop and CPU; `latencies` are filled by `drive`. */
async function measure(n: number, drive: (latencies: Float64Array) => Promise<void>) {
  const latencies = new Float64Array(n);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await drive(latencies);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  delay.disable();
  const sorted = latencies.slice().sort();
  return {
    appends: n,
    appendsPerSecond: Math.round(n / seconds),
    ackLatencyMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] as number },
    mainThreadBusyMicrosPerAppend: (elu.active * 1000) / n,
    processCpuMicrosPerAppend: (cpu.user + cpu.system) / n,
    eventLoopDelayMaxMs: delay.max / 1e6,
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
  };
}

/** Saturation: `clients` callers, each awaiting its acknowledgement before the next append. */
function saturated(append: Append, pool: DecisionRecord[], n: number, clients: number) {
  return async (latencies: Float64Array) => {
    let next = 0;
    const client = async () => {
      for (let i = next++; i < n; i = next++) {
        const record = freshRecord(pool, i);
        const started = performance.now();
        await append(record);
        latencies[i] = performance.now() - started;
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
  };
}

/** A fixed offered load (open loop): append i starts at i / rate seconds, whatever the earlier ones do. */
function paced(append: Append, pool: DecisionRecord[], n: number, rate: number, offset: number) {
  return async (latencies: Float64Array) => {
    const t0 = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const record = freshRecord(pool, offset + i);
      const started = performance.now();
      inFlight.push(
        append(record).then(() => {
          latencies[i] = performance.now() - started;
        }),
      );
    }
    await Promise.all(inFlight);
  };
}

const fmt = (name: string, r: Awaited<ReturnType<typeof measure>>) =>
  `${name}: ${r.appendsPerSecond} appends/s, ack p50 ${r.ackLatencyMs.p50.toFixed(2)} ms, p99 ${r.ackLatencyMs.p99.toFixed(2)} ms, max ${r.ackLatencyMs.max.toFixed(1)} ms; main thread ${r.mainThreadBusyMicrosPerAppend.toFixed(0)} µs/append busy, process CPU ${r.processCpuMicrosPerAppend.toFixed(0)} µs/append; event-loop delay max ${r.eventLoopDelayMaxMs.toFixed(1)} ms (p99 ${r.eventLoopDelayP99Ms.toFixed(1)} ms)`;

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = numArg(args, "n", 6000);
  const clients = numArg(args, "clients", 32);
  const rate = numArg(args, "rate", 300);
  const pacedN = numArg(args, "paced-n", 1500);
  const pool = recordPool(256);
  const dir = mkdtempSync(join(tmpdir(), "loopwise-bench-log-"));
  const store = new SqliteStore(join(dir, "loopwise.db"), { factsBlockSize: numArg(args, "block", 512) });
  const decisions = new SqliteDecisionStore(store);
  const append: Append = (record) => decisions.append(record);
  // Warm up (worker start, statement preparation, JIT) outside the measurement.
  for (let i = 0; i < 200; i++) await append({ ...(pool[i % pool.length] as DecisionRecord), decisionId: `warm-${i}` });
  const postgres = await openPostgres(pool);
  const startBytes = fileBytes(dir);
  const saturation = { clients, ...(await measure(n, saturated(append, pool, n, clients))) };
  console.log(fmt(`sqlite saturation (${clients} clients)`, saturation));
  const fileBytesPerAppend = Math.round((fileBytes(dir) - startBytes) / n);
  // PostgreSQL right after SQLite in the same process (the machine is shared: compare the ratio).
  const pgSaturation = postgres && { clients, ...(await measure(n, saturated(postgres.append, pool, n, clients))) };
  if (pgSaturation) {
    console.log(fmt(`postgres saturation (${clients} clients)`, pgSaturation));
    console.log(
      `postgres/sqlite appends/s: ${(pgSaturation.appendsPerSecond / saturation.appendsPerSecond).toFixed(2)}`,
    );
  }
  const fixedRate = { rate, ...(await measure(pacedN, paced(append, pool, pacedN, rate, n))) };
  console.log(fmt(`sqlite offered ${rate}/s`, fixedRate));
  const pgFixedRate = postgres && { rate, ...(await measure(pacedN, paced(postgres.append, pool, pacedN, rate, n))) };
  if (pgFixedRate) console.log(fmt(`postgres offered ${rate}/s`, pgFixedRate));
  const sizes = {
    recordBytes: Math.round(recordBytes(store)),
    jsonBytes: Buffer.byteLength(JSON.stringify(freshRecord(pool, 0))),
    fileBytesPerAppend,
  };
  console.log(
    `record ${sizes.recordBytes} B stored (JSON ${sizes.jsonBytes} B); file growth ${sizes.fileBytesPerAppend} B/append (facts blocks included)`,
  );
  const pgSizes = postgres && (await postgres.sizes());
  if (pgSizes) console.log(`postgres: ${pgSizes.bytesPerDecision} B/decision on disk (table, TOAST and indexes)`);
  await postgres?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const pg = postgres && { saturation: pgSaturation, fixedRate: pgFixedRate, ...pgSizes };
  return { saturation, fixedRate, ...sizes, ...(pg ? { postgres: pg } : {}) };
}

/**
 * The same appends on PostgreSQL (group commit, pg-log-writer.ts) when LOOPWISE_BENCH_POSTGRES_URL or
 * LOOPWISE_TEST_POSTGRES_URL is set: a throwaway schema, dropped at the end.
 */
async function openPostgres(pool: DecisionRecord[]) {
  const url = benchPostgresUrl("postgres");
  if (!url) return undefined;
  const schema = `lw_bench_${randomBytes(4).toString("hex")}`;
  const store = await PostgresStore.open({ url, schema });
  const decisions = new PostgresDecisionStore(store);
  const append: Append = (record) => decisions.append(record);
  for (let i = 0; i < 200; i++) await append({ ...(pool[i % pool.length] as DecisionRecord), decisionId: `warm-${i}` });
  return {
    append,
    sizes: async () => {
      const { rows } = await store.pool.query<{ bytes: number; n: number; record: number }>(
        // A partitioned parent has no storage of its own (migration 7): its day partitions and default, and the
        // id key table every decision also writes.
        `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'decisions'::regclass)::bigint
                + pg_total_relation_size('decision_ids')::bigint AS bytes,
                count(*)::bigint AS n, avg(octet_length(record))::float8 AS record FROM decisions`,
      );
      const row = rows[0] as { bytes: number; n: number; record: number };
      return { bytesPerDecision: Math.round(row.bytes / row.n), recordBytes: Math.round(row.record) };
    },
    close: async () => {
      await store.pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await store.close();
    },
  };
}
