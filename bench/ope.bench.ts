import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Xoshiro128 } from "../src/core/rng.js";
import type { LoggedSlot } from "../src/decisions/decision-record.js";
import type { DecisionStore } from "../src/decisions/decision-store.js";
import type { EstimatorInput } from "../src/ope/estimator.js";
import { dr } from "../src/ope/estimators/dr.js";
import { ips } from "../src/ope/estimators/ips.js";
import { snips } from "../src/ope/estimators/snips.js";
import { evaluateLog } from "../src/ope/evaluate-log.js";
import type { LoggedRound } from "../src/ope/logged-round.js";
import { simulateDecisions } from "../src/ope/simulate-decisions.js";
import { readDecisionLog } from "../src/ope/sources/loopwise-source.js";
import { summarize } from "../src/ope/summarize.js";
import { uniformTarget } from "../src/ope/targets.js";
import { MemoryDecisionStore } from "../src/storage/memory/decision-store-memory.js";
import { openSqliteDecisionStore } from "../src/storage/sqlite/decision-store-sqlite.js";

/**
 * `npm run bench -- ope [--n=1000000] [--store-n=200000] [--skip-sqlite]`: IPS + SNIPS + DR throughput, rows/s.
 * 1. math: the three estimators plus summarize on ready columnar arrays (goal ≥ 10M rows/s), n rows;
 * 2. pipeline: rounds already in memory → target (uniform) distributions, tabular q̂ fit and predictions,
 *    the three estimators, diagnostics (everything OPE does after reading the log), n rows;
 * 3. end to end from a store (goal ≥ 1M rows/s): scan the decision log, join rewards, build rounds, then 2.
 *    For the SQLite store (the product's log) and the in-memory store, store-n decisions (default 200k so
 *    the default run stays near 2 minutes: writing 1M decisions to SQLite alone takes ~90 s here; pass
 *    --store-n=1000000 for the full figure). The raw `scan` is timed separately to show where time goes.
 *    Store loading is setup, not measured.
 */
const JOIN = { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" as const };

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args.find((a) => a.startsWith("--n="))?.slice(4) ?? 1_000_000);
  const storeN = Number(args.find((a) => a.startsWith("--store-n="))?.slice(10) ?? 200_000);
  const out: Record<string, unknown> = { rows: n, storeRows: storeN };
  out.math = benchMath(n);
  out.pipeline = await benchPipeline(n);
  const sim = simulateDecisions({ decisions: storeN, candidates: 5, slots: 1, seed: 7, spacing: 10 });
  if (!args.includes("--skip-sqlite")) out.sqlite = await benchSqlite(sim);
  out.memory = await benchMemory(sim);
  return out;
}

function benchMath(n: number): Record<string, number> {
  const rng = new Xoshiro128(1);
  const input: EstimatorInput = {
    reward: Float64Array.from({ length: n }, () => (rng.next() < 0.1 ? 1 : 0)),
    propensity: Float64Array.from({ length: n }, () => 0.05 + 0.95 * rng.next()),
    targetProb: Float64Array.from({ length: n }, () => rng.next()),
    qLogged: Float64Array.from({ length: n }, () => 0.1 * rng.next()),
    qTarget: Float64Array.from({ length: n }, () => 0.1 * rng.next()),
  };
  const rates: number[] = [];
  let check = 0;
  for (let rep = 0; rep < 7; rep++) {
    const t0 = process.hrtime.bigint();
    for (const e of [ips, snips, dr]) check += summarize(e.terms(input, {})).value;
    rates.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  const result = { medianRowsPerSec: Math.round(rates[3] as number), bestRowsPerSec: Math.round(rates[6] as number) };
  console.log(
    `math (IPS+SNIPS+DR + summarize on columns, ${n} rows): median ${fmt(result.medianRowsPerSec)} rows/s, best ${fmt(result.bestRowsPerSec)} (checksum ${check.toFixed(3)})`,
  );
  return result;
}

/** Rounds built straight from the simulation (one slot per decision), no store in between. */
async function benchPipeline(n: number): Promise<Record<string, number>> {
  const sim = simulateDecisions({ decisions: n, candidates: 5, slots: 1, seed: 7, spacing: 10 });
  const clicked = new Set(sim.rewards.map((r) => r.decisionId));
  const rounds: LoggedRound[] = sim.decisions.map((d) => {
    const slot = d.slots[0] as LoggedSlot;
    return {
      context: { ...d.features, ...d.context },
      candidates: d.candidates,
      position: 0,
      action: slot.index,
      propensity: slot.propensity,
      probabilities: slot.probabilities,
      placedBefore: [],
      reward: clicked.has(d.decisionId) ? 1 : 0,
    };
  });
  const rates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await evaluateLog({ source: "bench", rounds, skipped: {}, notes: [] }, [uniformTarget()], {
      estimators: ["ips", "snips", "dr"],
      rewardModel: "tabular",
    });
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  const result = { medianRowsPerSec: Math.round(rates[1] as number), bestRowsPerSec: Math.round(rates[2] as number) };
  console.log(
    `pipeline (rounds in memory → uniform target, tabular q̂, IPS+SNIPS+DR, diagnostics; ${n} rows): median ${fmt(result.medianRowsPerSec)} rows/s, best ${fmt(result.bestRowsPerSec)}`,
  );
  return result;
}

async function endToEnd(label: string, store: DecisionStore, n: number): Promise<Record<string, number>> {
  const s0 = performance.now();
  let scanned = 0;
  for await (const batch of store.scan({ batchSize: 5000 })) scanned += batch.length;
  const scanSeconds = round((performance.now() - s0) / 1000);
  console.log(`${label} raw scan of ${scanned} decisions: ${scanSeconds}s (${fmt(scanned / scanSeconds)}/s)`);
  const t0 = performance.now();
  const log = await readDecisionLog(store, { join: JOIN, now: Date.UTC(2100, 0, 1), batchSize: 5000 });
  const t1 = performance.now();
  const result = await evaluateLog(log, [uniformTarget()], {
    estimators: ["ips", "snips", "dr"],
    rewardModel: "tabular",
  });
  const t2 = performance.now();
  const rows = log.rounds.length;
  const out = {
    rows,
    scanSeconds,
    scanRowsPerSec: Math.round(scanned / scanSeconds),
    readSeconds: round((t1 - t0) / 1000),
    evaluateSeconds: round((t2 - t1) / 1000),
    rowsPerSec: Math.round(rows / ((t2 - t0) / 1000)),
    readRowsPerSec: Math.round(rows / ((t1 - t0) / 1000)),
    evaluateRowsPerSec: Math.round(rows / ((t2 - t1) / 1000)),
  };
  const ips0 = result.targets[0]?.estimates[0]?.value ?? Number.NaN;
  console.log(
    `${label} end to end (${n} decisions → ${rows} rounds): ${fmt(out.rowsPerSec)} rows/s; read+join ${out.readSeconds}s (${fmt(out.readRowsPerSec)}/s), evaluate ${out.evaluateSeconds}s (${fmt(out.evaluateRowsPerSec)}/s); IPS ${ips0.toFixed(5)}`,
  );
  return out;
}

async function benchSqlite(sim: ReturnType<typeof simulateDecisions>): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-ope-bench-"));
  try {
    const { decisions, store } = openSqliteDecisionStore(join(dir, "loopwise.db"));
    const t0 = performance.now();
    for (let i = 0; i < sim.decisions.length; i += 10_000) {
      await Promise.all(sim.decisions.slice(i, i + 10_000).map((d) => decisions.append(d)));
    }
    for (let i = 0; i < sim.rewards.length; i += 10_000) {
      await Promise.all(sim.rewards.slice(i, i + 10_000).map((r) => decisions.addReward(r, JOIN.windowMs)));
    }
    console.log(
      `sqlite setup: wrote ${sim.decisions.length} decisions in ${((performance.now() - t0) / 1000).toFixed(1)}s (not measured)`,
    );
    const result = await endToEnd("sqlite", decisions, sim.decisions.length);
    await store.close();
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchMemory(sim: ReturnType<typeof simulateDecisions>): Promise<Record<string, number>> {
  const store = new MemoryDecisionStore();
  for (const d of sim.decisions) await store.append(d);
  for (const r of sim.rewards) await store.addReward(r, JOIN.windowMs);
  return endToEnd("memory", store, sim.decisions.length);
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : `${(v / 1e3).toFixed(0)}k`;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
