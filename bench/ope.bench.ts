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
import { type EvaluationResult, evaluateLog } from "../src/ope/evaluate-log.js";
import type { LoggedRound } from "../src/ope/logged-round.js";
import { simulateDecisions } from "../src/ope/simulate-decisions.js";
import { readDecisionColumns, readDecisionLog } from "../src/ope/sources/loopwise-source.js";
import { summarize } from "../src/ope/summarize.js";
import { uniformTarget } from "../src/ope/targets.js";
import { MemoryDecisionStore } from "../src/storage/memory/decision-store-memory.js";
import { openSqliteDecisionStore } from "../src/storage/sqlite/decision-store-sqlite.js";

/**
 * `npm run bench -- ope [--n=1000000] [--store-n=1000000] [--memory-n=200000] [--pipeline-n=200000]
 * [--skip-sqlite] [--skip-old]`: IPS + SNIPS + DR throughput, rows/s.
 * 1. math: the three estimators plus summarize on ready columnar arrays (goal ≥ 10M rows/s), n rows;
 * 2. pipeline: rounds already in memory → target (uniform) distributions, tabular q̂ fit and predictions,
 *    the three estimators, diagnostics (everything OPE does after reading the log as objects);
 * 3. end to end from the SQLite store (goal ≥ 1M rows/s), store-n decisions written in setup with one
 *    transaction per 10k (`appendMany`; rewards 10k per group commit), not measured. Two paths on the same
 *    log in the same run: the columnar one (`scanFacts` → `joinFacts` → `evaluateLog` on columns) and the
 *    old one (`scan` parses every JSON body → `joinRewards` → LoggedRound objects → `evaluateLog`); the
 *    estimates must be identical. The raw scans are timed separately to show where time goes;
 * 4. the same two paths on the in-memory store, memory-n decisions.
 */
const JOIN = { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" as const };
const NOW = Date.UTC(2100, 0, 1);
const CHUNK = 10_000;

const numArg = (args: string[], name: string, fallback: number) =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = numArg(args, "n", 1_000_000);
  const storeN = numArg(args, "store-n", 1_000_000);
  const memoryN = numArg(args, "memory-n", 200_000);
  const pipelineN = numArg(args, "pipeline-n", 200_000);
  const old = !args.includes("--skip-old");
  const out: Record<string, unknown> = { rows: n, storeRows: storeN, memoryRows: memoryN, pipelineRows: pipelineN };
  out.math = benchMath(n);
  out.pipeline = await benchPipeline(pipelineN);
  if (!args.includes("--skip-sqlite")) out.sqlite = await benchSqlite(storeN, old);
  out.memory = await benchMemory(memoryN, old);
  return out;
}

/** The simulated log in chunks of 10k decisions (consecutive timestamps), so 1M never sits in memory. */
function* simulatedChunks(total: number): Iterable<ReturnType<typeof simulateDecisions>> {
  for (let at = 0; at < total; at += CHUNK) {
    const decisions = Math.min(CHUNK, total - at);
    const sim = simulateDecisions({
      decisions,
      candidates: 5,
      slots: 1,
      seed: 7 + at,
      spacing: 10,
      start: START + at * 10,
    });
    for (const d of sim.decisions) d.decisionId = `sim_${at}_${d.decisionId}`;
    for (const r of sim.rewards) {
      r.decisionId = `sim_${at}_${r.decisionId}`;
      r.rewardId = `sim_${at}_${r.rewardId}`;
    }
    yield sim;
  }
}

const START = Date.UTC(2026, 0, 1);

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
  const sim = simulateDecisions({ decisions: n, candidates: 5, slots: 1, seed: 7, spacing: 10, start: START });
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

type Figures = Record<string, number | boolean>;

/**
 * The columnar path: facts scan, join on columns, evaluation on columns. Cheap, so it runs 3 times:
 * the figures are the median run's, `firstRowsPerSec` is the cold first run (JIT, page cache).
 */
async function fastPath(label: string, store: DecisionStore): Promise<{ figures: Figures; values: number[] }> {
  const runs: { figures: Figures; values: number[] }[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const s0 = performance.now();
    let scanned = 0;
    for await (const batch of store.scanFacts?.() ?? []) scanned += batch.decisions;
    const scanSeconds = (performance.now() - s0) / 1000;
    const t0 = performance.now();
    const log = await readDecisionColumns(store, { join: JOIN, now: NOW });
    const t1 = performance.now();
    const result = await evaluateLog(log, [uniformTarget()], {
      estimators: ["ips", "snips", "dr"],
      rewardModel: "tabular",
    });
    const t2 = performance.now();
    const path = `columnar (run ${rep + 1}/3)`;
    runs.push({
      figures: figures(label, path, scanned, scanSeconds, log.reward.length, t0, t1, t2),
      values: valuesOf(result),
    });
  }
  const rate = (r: { figures: Figures }) => r.figures.rowsPerSec as number;
  const median = [...runs].sort((a, b) => rate(a) - rate(b))[1] as (typeof runs)[number];
  return {
    figures: { ...median.figures, firstRowsPerSec: rate(runs[0] as (typeof runs)[number]) },
    values: median.values,
  };
}

/** The old path: JSON bodies → DecisionWithRewards → joinRewards → LoggedRound objects → evaluation. */
async function oldPath(label: string, store: DecisionStore): Promise<{ figures: Figures; values: number[] }> {
  const s0 = performance.now();
  let scanned = 0;
  for await (const batch of store.scan({ batchSize: 5000 })) scanned += batch.length;
  const scanSeconds = (performance.now() - s0) / 1000;
  const t0 = performance.now();
  const log = await readDecisionLog(store, { join: JOIN, now: NOW, batchSize: 5000 });
  const t1 = performance.now();
  const result = await evaluateLog(log, [uniformTarget()], {
    estimators: ["ips", "snips", "dr"],
    rewardModel: "tabular",
  });
  const t2 = performance.now();
  return {
    figures: figures(label, "old", scanned, scanSeconds, log.rounds.length, t0, t1, t2),
    values: valuesOf(result),
  };
}

function valuesOf(result: EvaluationResult): number[] {
  return (result.targets[0]?.estimates ?? []).flatMap((e) => [e.value ?? Number.NaN, e.stderr ?? Number.NaN]);
}

function figures(
  label: string,
  path: string,
  scanned: number,
  scanSeconds: number,
  rows: number,
  t0: number,
  t1: number,
  t2: number,
): Figures {
  const out = {
    rows,
    scanSeconds: round(scanSeconds),
    scanDecisionsPerSec: Math.round(scanned / scanSeconds),
    readSeconds: round((t1 - t0) / 1000),
    evaluateSeconds: round((t2 - t1) / 1000),
    rowsPerSec: Math.round(rows / ((t2 - t0) / 1000)),
    readRowsPerSec: Math.round(rows / ((t1 - t0) / 1000)),
    evaluateRowsPerSec: Math.round(rows / ((t2 - t1) / 1000)),
  };
  console.log(
    `${label} ${path} end to end (${scanned} decisions → ${rows} rounds): ${fmt(out.rowsPerSec)} rows/s; read+join ${out.readSeconds}s (${fmt(out.readRowsPerSec)}/s), evaluate ${out.evaluateSeconds}s (${fmt(out.evaluateRowsPerSec)}/s); raw scan ${out.scanSeconds}s (${fmt(out.scanDecisionsPerSec)} decisions/s)`,
  );
  return out;
}

async function compare(label: string, store: DecisionStore, old: boolean): Promise<Record<string, unknown>> {
  const fast = await fastPath(label, store);
  const out: Record<string, unknown> = { columnar: fast.figures };
  if (!old) return out;
  const slow = await oldPath(label, store);
  const identical = fast.values.every((v, i) => Object.is(v, slow.values[i]));
  console.log(
    `${label}: columnar ${fmt(fast.figures.rowsPerSec as number)} vs old ${fmt(slow.figures.rowsPerSec as number)} rows/s (×${((fast.figures.rowsPerSec as number) / (slow.figures.rowsPerSec as number)).toFixed(1)}); IPS/SNIPS/DR values and stderrs identical: ${identical} (IPS ${fast.values[0]?.toFixed(6)})`,
  );
  return { ...out, old: slow.figures, identical };
}

async function benchSqlite(total: number, old: boolean): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-ope-bench-"));
  try {
    const { decisions, store } = openSqliteDecisionStore(join(dir, "loopwise.db"));
    const t0 = performance.now();
    let rewards = 0;
    for (const sim of simulatedChunks(total)) {
      await decisions.appendMany(sim.decisions);
      await Promise.all(sim.rewards.map((r) => decisions.addReward(r, JOIN.windowMs)));
      rewards += sim.rewards.length;
    }
    const setup = (performance.now() - t0) / 1000;
    console.log(
      `sqlite setup: wrote ${total} decisions and ${rewards} rewards in ${setup.toFixed(1)}s (${fmt(total / setup)} decisions/s incl. rewards; not measured)`,
    );
    const result = await compare("sqlite", decisions, old);
    await store.close();
    return { setupSeconds: round(setup), ...result };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchMemory(total: number, old: boolean): Promise<Record<string, unknown>> {
  const store = new MemoryDecisionStore();
  for (const sim of simulatedChunks(total)) {
    for (const d of sim.decisions) await store.append(d);
    for (const r of sim.rewards) await store.addReward(r, JOIN.windowMs);
  }
  return compare("memory", store, old);
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : `${(v / 1e3).toFixed(0)}k`;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
