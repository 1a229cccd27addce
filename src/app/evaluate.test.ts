import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { describe, expect, it } from "vitest";
import type { Policy } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { clickProbability, simulateDecisions } from "../ope/simulate-decisions.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { defaultPolicyResolver, runEvaluation } from "./evaluate.js";

const join = { windowMs: 60_000, defaultReward: 0, aggregation: "earliest" as const };

async function storeWith(decisions: number): Promise<MemoryDecisionStore> {
  const store = new MemoryDecisionStore();
  const sim = simulateDecisions({ decisions, candidates: 4, slots: 2, seed: 5 });
  for (const d of sim.decisions) await store.append(d);
  for (const r of sim.rewards) await store.addReward(r, join.windowMs);
  return store;
}

/** Picks the segment's best item first (a port-conforming policy, deterministic). */
const oracle: Policy = {
  id: "oracle",
  type: "test",
  version: 1,
  distribution(input, placed = []) {
    const k = input.candidates.length;
    const order = input.context.segment === "a" ? [...Array(k).keys()] : [...Array(k).keys()].reverse();
    const next = order.find((j) => !placed.includes(j));
    return Float64Array.from({ length: k }, (_, j) => (j === next ? 1 : 0));
  },
  rank: () => [],
  update: () => {},
  describe: () => ({}),
  snapshot: () => ({}),
};

describe("runEvaluation on the decision log", () => {
  it("without an end, evaluates only decisions whose reward windows have closed", async () => {
    const store = await storeWith(600); // one decision a second from 2026-01-01, two slots each
    const clock = new ManualClock(Date.UTC(2026, 0, 1) + 300_000); // 5 minutes in; the window is 1 minute
    const deps = { decisions: store, joinConfig: join, clock, resolvePolicy: defaultPolicyResolver() };
    const closed = await runEvaluation({ logs: "loopwise:", estimators: ["ips"] }, deps);
    expect(closed.n).toBe(2 * 240); // decisions 0..239: their windows closed before now - 1 minute
    // Up to now, the last minute's decisions count only their rewarded slots (defaults come at the close):
    const upToNow = await runEvaluation({ logs: `loopwise:..${clock.now()}`, estimators: ["ips"] }, deps);
    expect(upToNow.n).toBeGreaterThan(closed.n);
    expect(upToNow.n).toBeLessThan(2 * 300);
    expect(upToNow.onPolicy.value).toBeGreaterThan(closed.onPolicy.value);
  });

  it("always includes logging and uniform, resolves policies, reports progress", async () => {
    const store = await storeWith(3000);
    const clock = new ManualClock(Date.UTC(2027, 0, 1));
    const progress: number[] = [];
    const resolved: string[] = [];
    const result = await runEvaluation(
      { logs: "loopwise:", targets: ["policy:oracle"], estimators: ["ips", "snips", "dr", "replay"] },
      {
        decisions: store,
        joinConfig: join,
        clock,
        resolvePolicy: (spec) => {
          resolved.push(spec);
          return oracle;
        },
      },
      (f) => progress.push(f),
    );
    expect(resolved).toEqual(["policy:oracle"]);
    expect(result.targets.map((t) => t.target)).toEqual(["logging", "uniform", "policy:oracle"]);
    expect(result.n).toBe(6000);
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, i) => i === 0 || p >= (progress[i - 1] as number))).toBe(true);
    // The log is uniform, so the logging and uniform targets coincide at w = 1.
    const uniform = result.targets[1];
    expect(uniform?.diagnostics.meanWeight).toBeCloseTo(1, 12);
    expect(uniform?.diagnostics.supportDeficiency).toBe(0);
    expect(uniform?.estimates[0]?.value).toBeCloseTo(result.onPolicy.value, 12);
    // Slot semantics are conditional (CCB): at slot 1 the oracle picks from what the *logger* left. Slot 0:
    // the best item, 0.3. Slot 1: the best unless the logger already placed it (prob 1/4), then 0.05.
    const best = clickProbability("a", 0, 4);
    const other = clickProbability("a", 1, 4);
    const truth = (best + (0.75 * best + 0.25 * other)) / 2;
    for (const e of result.targets[2]?.estimates ?? []) {
      expect(Math.abs((e.value as number) - truth)).toBeLessThan(4 * (e.stderr as number));
    }
  });

  it("learn:policy:<id> trains a copy along the log, never the registered policy", async () => {
    const store = await storeWith(500);
    const live = createPolicy("live", { type: "epsilon-greedy", params: { epsilon: 0.1 } });
    const result = await runEvaluation(
      { logs: "loopwise:", targets: ["learn:policy:live"], estimators: ["ips"] },
      { decisions: store, joinConfig: join, clock: new ManualClock(Date.UTC(2027, 0, 1)), resolvePolicy: () => live },
    );
    expect(result.targets.map((t) => t.target)).toEqual(["logging", "uniform", "learn:policy:live"]);
    expect(live.updates).toBe(0);
    expect(result.notes.join(" ")).toMatch(/learn: targets .* slightly optimistic/);
    expect(Number.isFinite(result.targets[2]?.estimates[0]?.value)).toBe(true);
  });

  it("refuses a log whose rewards are all still pending", async () => {
    const store = new MemoryDecisionStore();
    for (const d of simulateDecisions({ decisions: 10, seed: 1 }).decisions) await store.append(d);
    const early = new ManualClock(Date.UTC(2026, 0, 1));
    const deps = { decisions: store, joinConfig: join, clock: early, resolvePolicy: defaultPolicyResolver() };
    await expect(runEvaluation({ logs: "loopwise:" }, deps)).rejects.toThrow(/no resolved rounds/);
  });

  it("reads file targets and validates the request", async () => {
    const store = await storeWith(50);
    const rows = ["p_0,p_1,p_2,p_3", ...Array.from({ length: 100 }, () => "0.25,0.25,0.25,0.25")].join("\n");
    const deps = {
      decisions: store,
      joinConfig: join,
      clock: new ManualClock(Date.UTC(2027, 0, 1)),
      resolvePolicy: defaultPolicyResolver(),
      readText: async (path: string) => {
        if (path === "probs.csv") return rows;
        throw new Error(`no file ${path}`);
      },
    };
    const result = await runEvaluation({ logs: "loopwise:", targets: ["file:probs.csv"], estimators: ["ips"] }, deps);
    expect(result.targets[2]?.target).toBe("file:probs.csv");
    // Slot 1 has 3 free candidates (p = 1/3) but the file says 1/4: weights 3/4 there.
    expect(result.targets[2]?.diagnostics.meanWeight).toBeCloseTo((1 + 0.75) / 2, 12);
    await expect(runEvaluation({ logs: "loopwise:", estimators: ["nope"] }, deps)).rejects.toThrow(/unknown estimator/);
    await expect(runEvaluation({ logs: "csv:x" }, deps)).rejects.toThrow(/expected loopwise/);
  });
});

describe("defaultPolicyResolver", () => {
  it("looks registered policies up and builds JSON specs fresh", () => {
    const resolve = defaultPolicyResolver({ get: (id) => (id === "oracle" ? oracle : undefined) });
    expect(resolve("policy:oracle")).toBe(oracle);
    expect(() => resolve("policy:missing")).toThrow(/no registered policy/);
    const fresh = resolve('{"type":"uniform"}');
    expect(fresh.type).toBe("uniform");
    const dist = fresh.distribution({ context: {}, candidates: [{ id: "a" }, { id: "b" }] });
    expect(Array.from(dist)).toEqual([0.5, 0.5]);
  });
});

describe("runEvaluation on a Personalizer export", () => {
  it("reads a folder of DSJSON files line by line, as the same events in one file read", async () => {
    const sample = readFileSync(new URL("../../spec/ope/dsjson-sample.dsjson", import.meta.url), "utf8");
    const ccb = readFileSync(new URL("../../spec/ope/dsjson-ccb-sample.dsjson", import.meta.url), "utf8");
    const dir = mkdtempSync(joinPath(tmpdir(), "loopwise-export-"));
    try {
      mkdirSync(joinPath(dir, "2026", "01"), { recursive: true });
      writeFileSync(joinPath(dir, "2026", "01", "01_10.json"), sample);
      writeFileSync(joinPath(dir, "2026", "01", "01_11.dsjson"), ccb);
      writeFileSync(joinPath(dir, "notes.txt"), "not a log");
      writeFileSync(joinPath(dir, "whole.dsjson.txt"), `${sample}\n${ccb}`);
      const deps = { joinConfig: join, clock: new ManualClock(), resolvePolicy: defaultPolicyResolver() };
      const request = { logs: `dsjson:${dir}`, targets: ["uniform"], estimators: ["ips", "snips"] };
      const folder = await runEvaluation(request, deps);
      const whole = await runEvaluation({ ...request, logs: `dsjson:${joinPath(dir, "whole.dsjson.txt")}` }, deps);
      expect(folder.n).toBe(7); // 4 one-slot events and 3 labelled slots
      expect(folder.targets).toEqual(whole.targets);
      writeFileSync(joinPath(dir, "2026", "01", "01_12.json"), "{not json");
      await expect(runEvaluation(request, deps)).rejects.toThrow(/01_12\.json: DSJSON line 1: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
