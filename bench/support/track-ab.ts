/**
 * The learning + metrics stage's own work per decision, two checkouts in one process (A/B on a loaded
 * machine: the same decisions, alternated rounds, CPU time): the learning loop's `track`, the per-minute fold's
 * `apply` and the dashboard activity's `onDecision`, each fed the same realistic decisions (100 candidates,
 * 10 slots), windows left open as under traffic.
 *   node --import tsx bench/support/track-ab.ts --base=/tmp/base-s23 [--n=20000] [--rounds=3]
 */
import { resolve } from "node:path";
import { pino } from "pino";
import type { DecisionRecord } from "../../src/decisions/decision-record.js";

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const n = Number(arg("n") ?? 20_000);
const rounds = Number(arg("rounds") ?? 3);
const trees = {
  base: resolve(arg("base") ?? "/tmp/base-s23"),
  this: resolve(new URL("../..", import.meta.url).pathname),
};

async function loaders(root: string) {
  const { LearningLoop } = await import(`${root}/src/app/learning.js`);
  const { EngineMetrics } = await import(`${root}/src/app/metrics.js`);
  const { MinuteAggregator } = await import(`${root}/src/app/minute-aggregates.js`);
  const { DashboardActivity } = await import(`${root}/src/dashboard/activity.js`);
  const { DEFAULT_JOIN } = await import(`${root}/src/decisions/join-config.js`);
  const { realisticDecision } = await import(`${root}/src/decisions/test-fixtures.js`);
  const { policyInputOf } = await import(`${root}/src/app/rank.js`);
  return {
    LearningLoop,
    EngineMetrics,
    MinuteAggregator,
    DashboardActivity,
    DEFAULT_JOIN,
    realisticDecision,
    policyInputOf,
  };
}

function cpuUs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const loaded = { base: await loaders(trees.base), this: await loaders(trees.this) };
const results: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const name of ["base", "this"] as const) {
    const m = loaded[name];
    const decisions: DecisionRecord[] = Array.from({ length: n }, (_, i) => {
      const d = m.realisticDecision(i);
      return { ...d, decisionId: `${name}-${r}-${i}`, userId: `u-${r}-${i}` };
    });
    const inputs = decisions.map((d) => m.policyInputOf(d));
    const learning = new m.LearningLoop(
      m.DEFAULT_JOIN,
      { get: () => undefined },
      new m.EngineMetrics(),
      pino({ level: "silent" }),
    );
    const fold = new m.MinuteAggregator({
      retentionMs: 3_600_000,
      rewardHorizonMs: 1_200_000,
      sessionTtlMs: 7_200_000,
      maxTracked: 100_000,
    });
    const activity = new m.DashboardActivity({ now: () => 1_700_000_000_000 }, m.DEFAULT_JOIN);
    const track = cpuUs(() => {
      for (let i = 0; i < n; i++) learning.track(decisions[i]!, inputs[i]);
    });
    const foldUs = cpuUs(() => {
      for (const d of decisions) fold.apply({ kind: "decision", record: d });
    });
    const act = cpuUs(() => {
      for (const d of decisions) activity.onDecision(d);
    });
    for (const [k, v] of Object.entries({ track, fold: foldUs, activity: act })) {
      const key = `${name}.${k}`;
      results[key] = results[key] ?? [];
      results[key].push(v / n);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const k of ["track", "fold", "activity"]) {
  const b = median(results[`base.${k}`]!);
  const t = median(results[`this.${k}`]!);
  console.log(
    `${k}: base ${b.toFixed(1)} us, this ${t.toFixed(1)} us per decision (ratio ${(t / b).toFixed(2)}); rounds base ${results[`base.${k}`]!.map((x) => x.toFixed(1)).join(" ")}, this ${results[`this.${k}`]!.map((x) => x.toFixed(1)).join(" ")}`,
  );
}
