import { describe, expect, it } from "vitest";
import { defaultPolicyResolver, runEvaluation } from "../../app/evaluate.js";
import { ManualClock } from "../../core/clock.js";
import { Xoshiro128 } from "../../core/rng.js";
import type { DecisionRecord } from "../../decisions/decision-record.js";
import { simulateDecisions } from "../../ope/simulate-decisions.js";
import { MemoryDecisionStore } from "../memory/decision-store-memory.js";
import { SqliteStore } from "./database.js";
import { SqliteDecisionStore } from "./decision-store-sqlite.js";

/**
 * The simulated log's slots with Thompson pool distributions (ordered-pool.ts's expression: 64 samples' counts
 * times (1 − ε)/64 plus ε/|unplaced|, placed candidates 0), the logged item drawn from them and its propensity
 * the drawn item's value: what record version 3 stores as counts (or a palette, when smaller) and LWF2 blocks pack.
 */
function withPoolDistributions(decisions: DecisionRecord[], seed: number): DecisionRecord[] {
  const rng = new Xoshiro128(seed);
  return decisions.map((d) => {
    const n = d.candidates.length;
    const placed = new Set<number>();
    const slots = d.slots.map((slot) => {
      const counts = new Array<number>(n).fill(0);
      for (let m = 0; m < 64; m++) {
        let c = Math.floor(rng.next() ** 2 * n);
        while (placed.has(c)) c = (c + 1) % n;
        counts[c] = (counts[c] as number) + 1;
      }
      const share = (1 - 0.05) / 64;
      const base = 0.05 / (n - placed.size);
      const probabilities = counts.map((k, c) => (placed.has(c) ? 0 : k * share + base));
      let index = 0;
      for (let u = rng.next() - (probabilities[0] as number); u > 0 && index < n - 1; ) {
        index++;
        u -= probabilities[index] as number;
      }
      while (placed.has(index)) index = (index + 1) % n;
      placed.add(index);
      const itemId = (d.candidates[index] as { id: string }).id;
      return { ...slot, index, itemId, propensity: probabilities[index] as number, probabilities };
    });
    return { ...d, slots };
  });
}

describe("the compact log's OPE", () => {
  it("gives the same IPS, SNIPS and DR estimates from Thompson pool records and packed facts blocks as from memory", async () => {
    const sim = simulateDecisions({ decisions: 300, candidates: 20, slots: 3, seed: 4, spacing: 1000 });
    const decisions = withPoolDistributions(sim.decisions, 8);
    const reference = new MemoryDecisionStore();
    // Blocks of 32: most of the log is read from sealed LWF2 blocks, the rest from the unsealed tail.
    const db = new SqliteStore(":memory:", { factsBlockSize: 32 });
    const logged = new SqliteDecisionStore(db);
    for (const store of [reference, logged]) {
      for (const d of decisions) await store.append(d);
      for (const r of sim.rewards) await store.addReward(r, 60_000);
    }
    const evaluate = (store: MemoryDecisionStore | SqliteDecisionStore) =>
      runEvaluation(
        { logs: "loopwise:", targets: ["uniform"], estimators: ["ips", "snips", "dr"], bootstrap: 0 },
        {
          decisions: store,
          joinConfig: { windowMs: 60_000, defaultReward: 0, aggregation: "earliest" },
          clock: new ManualClock(Date.UTC(2027, 0, 1)),
          resolvePolicy: defaultPolicyResolver(),
        },
      );
    const before = await evaluate(reference);
    const after = await evaluate(logged);
    const estimates = (r: typeof before) => r.targets.map((t) => [t.target, t.estimates]);
    expect(before.n).toBeGreaterThan(500);
    expect(before.targets.flatMap((t) => t.estimates.map((e) => e.value)).every(Number.isFinite)).toBe(true);
    expect(estimates(after)).toEqual(estimates(before));
    expect(after.onPolicy).toEqual(before.onPolicy);
    // The log holds sealed blocks, and the records read back bit for bit.
    expect(db.db.prepare("SELECT count(*) FROM decision_facts_blocks").pluck().get()).toBeGreaterThan(5);
    const back = await logged.get("sim_7");
    expect(back?.decision.slots.map((s) => s.probabilities)).toEqual(decisions[7]?.slots.map((s) => s.probabilities));
    await db.close();
  });
});
