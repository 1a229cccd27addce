import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/rng.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { canEvaluateColumns, evaluateLog } from "./evaluate-log.js";
import { simulateDecisions } from "./simulate-decisions.js";
import { readDecisionColumns, readDecisionLog } from "./sources/loopwise-source.js";
import { loggingTarget, matrixTarget, type TargetPolicy, uniformTarget } from "./targets.js";

const START = Date.UTC(2026, 0, 1);
const ESTIMATORS = ["ips", "snips", "dm", "dr", "sndr", "switch-dr", "replay"];

/**
 * A slate log with everything the join distinguishes: 3 slots of 5 candidates, candidate lists in two
 * orders, deferred activations (some never), rewards by item and for the whole decision, values 1 and 2,
 * rewards after the window, decisions out of timestamp order and with equal timestamps.
 */
async function fill(store: DecisionStore): Promise<number> {
  const sim = simulateDecisions({ decisions: 400, candidates: 5, slots: 3, seed: 11, start: START, spacing: 1000 });
  const rng = new Xoshiro128(5);
  const decisions = sim.decisions.map((d, i): DecisionRecord => {
    let out: DecisionRecord = { ...d, timestamp: i % 9 === 0 ? d.timestamp - 5000 : d.timestamp - (i % 2) * 1000 };
    if (i % 7 === 0) {
      const k = d.candidates.length;
      out = {
        ...out,
        candidates: [...d.candidates].reverse(),
        slots: d.slots.map((s) => ({ ...s, index: k - 1 - s.index, probabilities: [...s.probabilities].reverse() })),
      };
    }
    return i % 5 === 0 ? { ...out, activated: false } : out;
  });
  for (const d of decisions) await store.append(d);
  for (const [i, d] of decisions.entries()) if (i % 10 === 0) await store.activate(d.decisionId, d.timestamp + 400);
  for (const r of sim.rewards) await store.addReward({ ...r, value: rng.next() < 0.3 ? 2 : 1 }, 600_000);
  for (const [i, d] of decisions.entries()) {
    if (i % 4 !== 0) continue;
    const late = i % 8 === 0 ? 700_000 : 50;
    await store.addReward(
      {
        rewardId: `whole_${i}`,
        decisionId: d.decisionId,
        value: 3,
        type: "buy",
        timestamp: d.timestamp + late,
        source: "api",
      },
      600_000,
    );
  }
  return decisions[decisions.length - 1]?.timestamp ?? START;
}

function fileTarget(rounds: number): TargetPolicy {
  const rng = new Xoshiro128(3);
  const values = new Float64Array(rounds * 5);
  for (let i = 0; i < rounds; i++) {
    const w = Array.from({ length: 5 }, () => rng.next());
    const sum = w.reduce((a, b) => a + b, 0);
    w.forEach((v, j) => {
      values[i * 5 + j] = v / sum;
    });
  }
  return matrixTarget("file:test.csv", { rows: rounds, k: 5, values });
}

async function expectSameEvaluation(store: DecisionStore, last: number) {
  const joins: JoinConfig[] = [
    { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" },
    { windowMs: 600_000, defaultReward: 0.5, aggregation: "sum" },
  ];
  for (const join of joins) {
    // `now` inside the last windows: some slots are still pending.
    const read = { join, now: last + 300_000, from: START - 3_000, to: last };
    const full = await readDecisionLog(store, { ...read, batchSize: 64 });
    const cols = await readDecisionColumns(store, read);
    expect(cols.reward.length).toBe(full.rounds.length);
    expect(cols.skipped).toEqual(full.skipped);
    expect(full.skipped.pending).toBeGreaterThan(0);
    expect(full.skipped.not_activated).toBeGreaterThan(0);
    const targets = [loggingTarget(), uniformTarget(), fileTarget(full.rounds.length)];
    for (const rewardModel of ["tabular", "tabular-action"]) {
      const options = { estimators: ESTIMATORS, rewardModel, bootstrap: 30, seed: 4, clip: 3, switchLambda: 2 };
      expect(canEvaluateColumns(targets, options)).toBe(true);
      const want = await evaluateLog(full, targets, options);
      const values = want.targets.flatMap((t) => t.estimates.map((e) => e.value ?? Number.NaN));
      expect(values.filter(Number.isFinite).length).toBeGreaterThan(ESTIMATORS.length * 2);
      expect(await evaluateLog(cols, targets, options)).toEqual(want);
    }
  }
}

describe("columnar evaluation of Loopwise's decision log", () => {
  it("gives the same result as the full path on the memory store", async () => {
    const store = new MemoryDecisionStore();
    await expectSameEvaluation(store, await fill(store));
  });

  it("gives the same result as the full path on the SQLite store (sealed blocks and a pending tail)", async () => {
    const db = new SqliteStore(":memory:", { factsBlockSize: 64 });
    const store = new SqliteDecisionStore(db);
    await expectSameEvaluation(store, await fill(store));
    await db.close();
  });

  it("refuses targets and reward models that read the context", async () => {
    const store = new MemoryDecisionStore();
    const last = await fill(store);
    const cols = await readDecisionColumns(store, {
      join: { windowMs: 1, defaultReward: 0, aggregation: "sum" },
      now: last + 10,
    });
    // Only the kind matters here: a registered policy reads the context, so columns refuse it.
    const policy: TargetPolicy = { ...uniformTarget(), name: "p", kind: "policy" };
    expect(canEvaluateColumns([uniformTarget(), policy], { estimators: ["ips"], rewardModel: "tabular" })).toBe(false);
    expect(canEvaluateColumns([uniformTarget()], { estimators: ["dr"], rewardModel: "ridge" })).toBe(false);
    expect(canEvaluateColumns([uniformTarget()], { estimators: ["ips"], rewardModel: "ridge" })).toBe(true);
    await expect(evaluateLog(cols, [policy], { estimators: ["ips"], rewardModel: "tabular" })).rejects.toThrow(
      /columnar/,
    );
  });
});
