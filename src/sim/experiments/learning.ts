import type { PolicySpec } from "../../bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../../bandit/policy-types.js";
import { DAY, ManualClock } from "../../core/clock.js";
import { runSimulation } from "../driver/run-simulation.js";
import type { ServedDecision } from "../driver/session-runner.js";
import { type ChartSeries, lineChart } from "../svg-chart.js";
import type { SimTarget } from "../target.js";
import { openInProcessTarget } from "../targets/in-process-target.js";
import { createPolicyTarget } from "../targets/policy-target.js";
import type { ScenarioInput } from "../world/scenario.js";
import { resolveScenario } from "../world/scenarios.js";

export interface LearningOptions {
  /** Sessions simulated (default 6,000: a month of the default shop). */
  sessions?: number;
  /** Points on the curve (default 12). */
  buckets?: number;
  scenario?: string | ScenarioInput;
  seed?: number;
  /**
   * `policy`: the bandit alone (src/sim/targets/policy-target.ts); `engine`: the in-process engine, which
   * adds the feature store's aggregates to the context (when the engine has them).
   */
  via?: "policy" | "engine";
  /** The learner (default: the product default, DEFAULT_POLICY_SPEC). Engine: registered and forced by id. */
  policy?: PolicySpec;
}

/** True CTRs (clicks per impression, exact expectations) of one stretch of sessions, all on the same requests. */
export interface LearningPoint {
  /** Sessions simulated at the end of this stretch. */
  sessions: number;
  decisions: number;
  policy: number;
  oracle: number;
  /** The context-only oracle: ranks by what segment, device and time of day explain (not the person). */
  contextOracle: number;
  popularity: number;
  uniform: number;
}

export interface LearningResult {
  via: "policy" | "engine";
  policy: { id: string; type: string };
  sessions: number;
  decisions: number;
  simulatedDays: number;
  wallSeconds: number;
  curve: LearningPoint[];
  /**
   * Over the last quarter of sessions: gapClosed = (policy − popularity) / (oracle − popularity);
   * contextGapClosed, the same for the context-only oracle (the share of the gap context can explain).
   */
  final: LearningPoint & { gapClosed: number; contextGapClosed: number; liftOverUniform: number };
  errors: number;
  /** Set when the experiment could not run what was asked exactly (e.g. the engine's default policy served). */
  note?: string;
}

const LEARNER_ID = "sim-learner";

/**
 * The learning experiment: the same seeded stream of visits served by the learner, with the exact value the
 * oracle, the best popularity ranking and uniform would have had on each request. Seeded and repeatable
 * (decision ids are fixed, so exploration draws repeat too).
 */
export async function learningExperiment(o: LearningOptions = {}): Promise<LearningResult> {
  const scenario = resolveScenario(o.scenario ?? "default", o.seed !== undefined ? { seed: o.seed } : {});
  const sessions = o.sessions ?? 6000;
  const buckets = o.buckets ?? 12;
  const spec = o.policy ?? DEFAULT_POLICY_SPEC;
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const via = o.via ?? "policy";
  const { target, forced, note } = await openLearner(via, spec, clock, o.policy !== undefined);
  const acc = Array.from({ length: buckets }, () => ({
    decisions: 0,
    slots: 0,
    policy: 0,
    context: 0,
    oracle: 0,
    popularity: 0,
    uniform: 0,
  }));
  const served = { id: LEARNER_ID, type: spec.type };
  const onDecision = (d: ServedDecision) => {
    if (!d.reference) return;
    const b = acc[Math.min(buckets - 1, Math.floor((d.sessionIndex * buckets) / sessions))];
    if (!b) return;
    served.id = d.policyId;
    served.type = d.policyType;
    b.decisions++;
    b.slots += d.slots;
    b.policy += d.trueClicks;
    b.oracle += d.reference.oracle;
    b.context += d.reference.context;
    b.popularity += d.reference.popularity;
    b.uniform += d.reference.uniform;
  };
  const days = Math.ceil(sessions / scenario.sessions.perDay) + 1;
  const report = await runSimulation({
    scenario: { ...scenario, ...(forced ? { split: [LEARNER_ID] } : {}) },
    target,
    mode: "fast",
    clock,
    durationMs: days * DAY,
    maxSessions: sessions,
    references: true,
    onDecision,
  });
  await target.close();
  const curve = acc.map((b, i) => point(b, Math.round(((i + 1) * sessions) / buckets)));
  const tail = acc.slice(Math.floor(buckets * 0.75));
  const merged = tail.reduce((m, b) => ({
    decisions: m.decisions + b.decisions,
    slots: m.slots + b.slots,
    policy: m.policy + b.policy,
    oracle: m.oracle + b.oracle,
    context: m.context + b.context,
    popularity: m.popularity + b.popularity,
    uniform: m.uniform + b.uniform,
  }));
  const last = point(merged, sessions);
  return {
    via,
    policy: served,
    sessions,
    decisions: report.policies.reduce((a, p) => a + p.decisions, 0),
    simulatedDays: report.simulated.days,
    wallSeconds: report.wallSeconds,
    curve,
    final: {
      ...last,
      gapClosed: round((last.policy - last.popularity) / (last.oracle - last.popularity)),
      contextGapClosed: round((last.contextOracle - last.popularity) / (last.oracle - last.popularity)),
      liftOverUniform: round(last.policy / last.uniform - 1),
    },
    errors: report.requests.errors,
    ...(note ? { note } : {}),
  };
}

interface Learner {
  target: SimTarget;
  /** True when rank requests must force the learner's policy id. */
  forced: boolean;
  note?: string;
}

/**
 * The policy alone, or the engine. On the engine the learner is registered under its own id and forced
 * when a policy was asked for; the engine's default policy serves otherwise (or if registering failed).
 */
async function openLearner(
  via: "policy" | "engine",
  spec: PolicySpec,
  clock: ManualClock,
  asked: boolean,
): Promise<Learner> {
  if (via === "policy") return { target: createPolicyTarget(createPolicy(LEARNER_ID, spec), clock), forced: false };
  const target = await openInProcessTarget(clock);
  if (!asked) return { target, forced: false };
  try {
    await target.registerPolicy({ id: LEARNER_ID, ...spec });
    return { target, forced: true };
  } catch (e) {
    return {
      target,
      forced: false,
      note: `engine could not register the policy (${(e as Error).message}); its default served`,
    };
  }
}

function point(
  b: {
    decisions: number;
    slots: number;
    policy: number;
    oracle: number;
    context: number;
    popularity: number;
    uniform: number;
  },
  sessions: number,
): LearningPoint {
  const per = b.slots || 1;
  return {
    sessions,
    decisions: b.decisions,
    policy: round(b.policy / per),
    oracle: round(b.oracle / per),
    contextOracle: round(b.context / per),
    popularity: round(b.popularity / per),
    uniform: round(b.uniform / per),
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** The learning curve as an SVG document. */
export function learningChart(results: readonly (LearningResult & { label?: string })[]): string {
  const first = results[0];
  if (!first) return lineChart({ title: "no data", xLabel: "", yLabel: "", series: [] });
  const xy = (pick: (p: LearningPoint) => number, r: LearningResult) =>
    r.curve.map((p) => [p.sessions, pick(p)] as const);
  const colors = ["#1f77b4", "#9467bd", "#17becf", "#d62728", "#8c564b", "#e377c2"];
  const series: ChartSeries[] = [
    { name: "oracle", points: xy((p) => p.oracle, first), color: "#2ca02c", dashed: true },
    ...results.map((r, i) => ({
      name: r.label ?? `${r.policy.type} (${r.via})`,
      points: xy((p) => p.policy, r),
      color: colors[i % colors.length] as string,
    })),
    { name: "context-only oracle", points: xy((p) => p.contextOracle, first), color: "#bcbd22", dashed: true },
    { name: "popularity", points: xy((p) => p.popularity, first), color: "#ff7f0e", dashed: true },
    { name: "uniform", points: xy((p) => p.uniform, first), color: "#7f7f7f", dashed: true },
  ];
  return lineChart({
    title: "Loopwise learning in the simulated shop (true CTR per stretch of sessions)",
    xLabel: "sessions simulated",
    yLabel: "true CTR (clicks per impression)",
    series,
  });
}
