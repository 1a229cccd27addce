import { HOUR, MINUTE } from "../src/core/clock.js";
import { buildRolloutConfig } from "../src/rollout/rollout-config.js";
import type { ArmProfile, CounterScenario, ScenarioResult } from "../src/rollout/traffic-sim.js";
import { runCounterScenario } from "../src/rollout/traffic-sim.js";

/**
 * Rollout guardrails at a realistic volume, looked at every minute (issue 7): 150k decisions/hour, 3 per
 * session, 5 % CTR, 3 % conversion, default plan (1/10/50/100 %, 24 h holds, tolerated drops 2/2/3 %,
 * false-alarm rate 0.05). Counter-level simulation (src/rollout/traffic-sim.ts). Options:
 * --runs=N (default 200), --look=MINUTES (default 1), --cases=equal,worse10,... (default all).
 */
const incumbent: ArmProfile = { ctr: 0.05, conversion: 0.03, values: [20, 50, 100] };

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const opt = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const runs = opt("runs", 200);
  const lookMs = opt("look", 1) * MINUTE;
  const perMinute = { sessions: 833, users: 500 };
  const base = (seed: number, candidate: ArmProfile, extra: Partial<CounterScenario> = {}): ScenarioResult =>
    runCounterScenario({
      seed: `bench-${seed}`,
      config: buildRolloutConfig({ opeGate: false }),
      candidate,
      incumbent,
      sessionsPerStep: Math.round((perMinute.sessions * lookMs) / MINUTE),
      decisionsPerSession: 3,
      newUsersPerStep: Math.round((perMinute.users * lookMs) / MINUTE),
      stepMs: lookMs,
      maxSteps: Math.ceil((6 * 24 * HOUR) / lookMs),
      ...extra,
    });
  const batch = (n: number, candidate: ArmProfile, extra?: Partial<CounterScenario>) =>
    Array.from({ length: n }, (_, i) => base(i, candidate, extra));
  const summary = (name: string, results: ScenarioResult[]) => {
    const by: Record<string, number> = {};
    for (const r of results) by[`${r.status}@${r.endStage}%`] = (by[`${r.status}@${r.endStage}%`] ?? 0) + 1;
    const hours = (s: string) =>
      results
        .filter((r) => r.status === s)
        .map((r) => r.elapsedMs / HOUR)
        .sort((a, b) => a - b);
    const q = (xs: number[], p: number) =>
      xs.length ? Number((xs[Math.floor(p * (xs.length - 1))] as number).toFixed(2)) : null;
    const rb = hours("rolled_back");
    const done = hours("completed");
    const out = {
      runs: results.length,
      outcomes: by,
      rollbackRate: rb.length / results.length,
      haltRate: hours("halted").length / results.length,
      hoursToRollback: { median: q(rb, 0.5), p90: q(rb, 0.9), max: q(rb, 1) },
      hoursToComplete: { median: q(done, 0.5), max: q(done, 1) },
      hoursToHalt: { median: q(hours("halted"), 0.5), max: q(hours("halted"), 1) },
    };
    console.log(`${name}: ${JSON.stringify(out)}`);
    return out;
  };
  const chiSquare = { config: buildRolloutConfig({ opeGate: false, srmTest: "chi-square" }) };
  const cases: Record<string, () => unknown> = {
    equal: () => summary("equal candidate", batch(runs, incumbent)),
    atTolerance: () =>
      summary("candidate exactly 2 % worse on CTR (the tolerance)", batch(runs, { ...incumbent, ctr: 0.049 })),
    worse10: () => summary("candidate 10 % worse on CTR", batch(Math.ceil(runs / 2), { ...incumbent, ctr: 0.045 })),
    worseConversion10: () =>
      summary("candidate 10 % worse on conversion", batch(Math.ceil(runs / 4), { ...incumbent, conversion: 0.027 })),
    better5: () => summary("candidate 5 % better on CTR", batch(Math.ceil(runs / 4), { ...incumbent, ctr: 0.0525 })),
    srmSkew08: () =>
      summary(
        "broken assignment (candidate share x0.8)",
        batch(Math.ceil(runs / 10), incumbent, { assignmentSkew: 0.8 }),
      ),
    equalChiSquareSrm: () =>
      summary("equal candidate, SRM by chi-square at every look", batch(Math.ceil(runs / 2), incumbent, chiSquare)),
  };
  const only = args
    .find((a) => a.startsWith("--cases="))
    ?.split("=")[1]
    ?.split(",");
  const started = Date.now();
  const result: Record<string, unknown> = { lookEveryMinutes: lookMs / MINUTE, runs };
  for (const [name, fn] of Object.entries(cases)) if (!only || only.includes(name)) result[name] = fn();
  result.wallSeconds = (Date.now() - started) / 1000;
  return result;
}
