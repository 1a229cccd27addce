import { DAY, ManualClock, MINUTE } from "../../core/clock.js";
import { runSimulation } from "../driver/run-simulation.js";
import type { PolicyReport, RolloutTimelineEntry, SimReport } from "../report.js";
import type { SimTarget } from "../target.js";
import { openInProcessTarget } from "../targets/in-process-target.js";
import type { ScenarioInput } from "../world/scenario.js";
import { resolveScenario } from "../world/scenarios.js";

export interface RolloutExperimentOptions {
  /** `rollout-good`, `rollout-equal`, `rollout-bad` or a scenario with a `rollout` section. */
  scenario: string | ScenarioInput;
  /** Simulated days (default: the scenario's, 14). */
  days?: number;
  seed?: number;
  /** Extra rollout plan fields (stages, minHold, guardrails...) merged over the scenario's. */
  plan?: Record<string, unknown>;
  /** Overrides merged into the scenario (e.g. a smaller shop for tests). */
  overrides?: ScenarioInput;
  /**
   * Simulate every day even after the rollout reached a final state (default false: the run ends at the
   * first rollout poll that finds it completed, rolled back, halted or aborted).
   */
  runToEnd?: boolean;
  /**
   * How often the engine's periodic work runs, simulated (default 5 minutes): the controller's stages hold for
   * hours, so deciding a few minutes later changes no verdict, and every tick walks the rollout's and the
   * dashboard's tracked sessions (a tick a minute was a tenth of a week-long run's CPU).
   */
  tickEveryMs?: number;
  /** How often the rollout's status is read for the timeline and the end of the run (default 1 h simulated). */
  rolloutPollMs?: number;
  /** The target on the simulated clock (default: a fresh in-process engine in memory, the scenario's `engine` config). */
  openTarget?: (clock: ManualClock) => Promise<SimTarget>;
}

export interface RolloutTransition {
  action: string;
  fromStage: number;
  toStage: number;
  reasons: string[];
}

export interface RolloutExperimentResult {
  scenario: string;
  /** False when the engine has no rollout support (then only the arms' numbers are meaningful). */
  rolloutStarted: boolean;
  timeline: RolloutTimelineEntry[];
  finalStatus?: string;
  finalStage?: number;
  /**
   * The controller's last transition as its audit history records it: the stage it left (a rollback's own
   * stage is 0) and its reason codes (e.g. `guardrail_regression`, `ope_gate_failed`, `stage_held`).
   */
  lastTransition?: RolloutTransition;
  /** Every transition the controller made, in order (from the rollout's audit history; creation excluded). */
  transitions: RolloutTransition[];
  /** Per arm: what the simulator saw and the exact true CTR of what each served. */
  arms: { candidate?: PolicyReport; incumbent?: PolicyReport };
  /** candidate trueCtr / incumbent trueCtr over the traffic each served (the scenario's target ratio). */
  trueCtrRatio?: number;
  targetRatio: number;
  /** Simulated days the run covered (fewer than the scenario's when the rollout ended earlier). */
  simulatedDays: number;
  wallSeconds: number;
  /**
   * CPU seconds of this process during the run (all threads). On a shared machine it says how much work the
   * run was when the wall time says how long it waited for a core.
   */
  cpuSeconds: number;
  report: SimReport;
}

/**
 * The rollout experiment: a candidate with a known true CTR relative to the incumbent rolled out by the
 * in-process engine on a simulated clock, with the timeline of stages the engine went through.
 */
export async function rolloutExperiment(o: RolloutExperimentOptions): Promise<RolloutExperimentResult> {
  const overrides: ScenarioInput = { ...o.overrides };
  if (o.seed !== undefined) overrides.seed = o.seed;
  const scenario = resolveScenario(o.scenario, overrides);
  const spec = scenario.rollout;
  if (!spec) throw new Error(`scenario ${scenario.name} has no rollout section`);
  if (o.plan) spec.plan = { ...spec.plan, ...o.plan };
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const cpuBefore = process.cpuUsage();
  const target = await (o.openTarget ?? ((c) => openInProcessTarget(c, scenario.engine)))(clock);
  let report: SimReport;
  try {
    report = await runSimulation({
      scenario,
      target,
      mode: "fast",
      clock,
      durationMs: (o.days ?? scenario.days) * DAY,
      references: false,
      stopWhenRolloutEnds: !o.runToEnd,
      tickEveryMs: o.tickEveryMs ?? 5 * MINUTE,
      ...(o.rolloutPollMs !== undefined ? { rolloutPollMs: o.rolloutPollMs } : {}),
    });
  } finally {
    await target.close();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const candidate = report.policies.find((p) => p.policyId === spec.candidate.id);
  const incumbent = report.policies.find((p) => p.policyId === spec.incumbent.id);
  const last = report.rollout?.timeline[report.rollout.timeline.length - 1];
  return {
    scenario: scenario.name,
    rolloutStarted: report.rollout !== undefined,
    timeline: report.rollout?.timeline ?? [],
    ...(last?.status !== undefined ? { finalStatus: last.status } : {}),
    ...(last?.stage !== undefined ? { finalStage: last.stage } : {}),
    ...transitionsOf(report.rollout?.final),
    arms: { ...(candidate ? { candidate } : {}), ...(incumbent ? { incumbent } : {}) },
    ...(candidate && incumbent && incumbent.trueCtr > 0 ? { trueCtrRatio: candidate.trueCtr / incumbent.trueCtr } : {}),
    targetRatio: spec.ctrRatio,
    simulatedDays: report.simulated.days,
    wallSeconds: report.wallSeconds,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
    report,
  };
}

/** The transitions in a rollout view's `history` (GET /v1/rollouts/:id), creation excluded, and the last one. */
function transitionsOf(
  view: Record<string, unknown> | undefined,
): Pick<RolloutExperimentResult, "transitions" | "lastTransition"> {
  const history = Array.isArray(view?.history) ? (view.history as Record<string, unknown>[]) : [];
  const stage = (v: unknown) => (typeof v === "number" ? v : Number.NaN);
  const transitions = history
    .filter((e) => typeof e.action === "string" && e.action !== "create")
    .map((e) => ({
      action: e.action as string,
      fromStage: stage(e.fromStage),
      toStage: stage(e.toStage),
      reasons: (Array.isArray(e.reasons) ? (e.reasons as { code?: unknown }[]) : []).map((r) => String(r.code)),
    }));
  const last = transitions.at(-1);
  return { transitions, ...(last ? { lastTransition: last } : {}) };
}
