import { loadavg } from "node:os";
import { trainRecommender } from "../src/recommend/recommenders.js";
import { buildDataset, type SessionSequence } from "../src/recommend/session-dataset.js";
import type { SessionModel } from "../src/recommend/session-model.js";
import { syntheticSessions } from "../src/recommend/synthetic-sessions.js";

/**
 * `npm run bench -- recommend [--small] [--events=N] [--items=N] [--models=a,b]`:
 * 1. training time and memory of the session models on a generated log of the size, 10M events over
 *    100k items (the whole bench ≈ 30 s–1.5 min and 1.2 GB peak on this shared 2-core box; `--small`: 2M events);
 *    training = building the session index (shared by the kNN models) + the family's own fit;
 * 2. per-request latency, in process: `recommend(session, 50)` for sessions of 10 events among 100k items
 *    (candidates + scores + availability filter), p50/p90/p99 over 20k calls.
 * The log comes from syntheticSessions (topics of 50 Zipf-popular items, Zipf-popular topics).
 */
interface Opts {
  events: number;
  items: number;
  models: string[];
}

function parseArgs(args: string[]): Opts {
  const get = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
  const small = args.includes("--small");
  return {
    events: Number(get("events") ?? (small ? 2_000_000 : 10_000_000)),
    items: Number(get("items") ?? 100_000),
    models: (get("models") ?? "vstan,cooc").split(","),
  };
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function latency(model: SessionModel, sessions: readonly SessionSequence[], calls: number) {
  const queries = sessions.filter((s) => s.items.length >= 10).map((s) => s.items.slice(0, 10));
  const isAvailable = (id: string) => id.charCodeAt(id.length - 1) !== 55; // ~10% unavailable: ids ending in 7
  for (let w = 0; w < 500; w++) model.recommend(queries[w % queries.length]!, 50, { isAvailable });
  const times = new Float64Array(calls);
  for (let c = 0; c < calls; c++) {
    const q = queries[c % queries.length]!;
    const t0 = performance.now();
    model.recommend(q, 50, { isAvailable });
    times[c] = (performance.now() - t0) * 1000;
  }
  times.sort();
  return {
    calls,
    p50us: percentile(times, 0.5),
    p90us: percentile(times, 0.9),
    p99us: percentile(times, 0.99),
    maxUs: times[calls - 1]!,
  };
}

const mb = (b: number) => Math.round(b / 1024 / 1024);

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const opts = parseArgs(args);
  console.log(`generated log: ${opts.events} events, ${opts.items} items (--small: 2M events)`);
  let started = performance.now();
  const sessions = syntheticSessions({ events: opts.events, items: opts.items, seed: 1 });
  const heapBefore = process.memoryUsage().heapUsed;
  const dataset = buildDataset(sessions);
  const datasetSeconds = (performance.now() - started) / 1000;
  const datasetHeapMb = mb(process.memoryUsage().heapUsed - heapBefore);
  console.log(
    `sessions ${sessions.length}, items seen ${dataset.itemIds.length}; dataset built in ${datasetSeconds.toFixed(2)} s, heap +${datasetHeapMb} MB`,
  );
  const results: Record<string, unknown> = {};
  for (const name of opts.models) {
    started = performance.now();
    const model = trainRecommender(name, dataset);
    const fitSeconds = (performance.now() - started) / 1000;
    const lat = latency(model, sessions, 20_000);
    const mem = process.memoryUsage();
    const row = {
      trainSeconds: datasetSeconds + fitSeconds,
      fitSeconds,
      ...lat,
      rssMb: mb(mem.rss),
      arrayBuffersMb: mb(mem.arrayBuffers),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    console.log(
      `${name.padEnd(8)} train ${row.trainSeconds.toFixed(2)} s (index + fit ${fitSeconds.toFixed(2)} s) | recommend(10-event session, k=50): p50 ${lat.p50us.toFixed(1)} µs, p90 ${lat.p90us.toFixed(1)} µs, p99 ${lat.p99us.toFixed(1)} µs | rss ${row.rssMb} MB, peak ${row.peakRssMb} MB`,
    );
    results[name] = row;
  }
  // The box is shared: a loaded machine preempts single calls for milliseconds, which shows in p99 only.
  const load = loadavg().map((l) => Number(l.toFixed(2)));
  console.log(`load average (1/5/15 min): ${load.join(" ")} on 2 cores`);
  return {
    loadAverage: load,
    events: opts.events,
    items: opts.items,
    sessions: sessions.length,
    datasetSeconds,
    models: results,
  };
}
