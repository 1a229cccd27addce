import { createEngine } from "../../app/engine.js";
import { DEFAULT_POLICY_SPEC } from "../../bandit/policy-types.js";
import { DAY, ManualClock } from "../../core/clock.js";
import { runSimulation } from "../driver/run-simulation.js";
import type { PolicyReport, RolloutTimelineEntry } from "../report.js";
import { createInProcessTarget } from "../targets/in-process-target.js";
import type { ScenarioInput } from "../world/scenario.js";
import { resolveScenario } from "../world/scenarios.js";

export interface WarmRolloutOptions {
  /** Train the candidate on the decision log at registration (`warmStart`), or start it cold. */
  warm: boolean;
  seed?: number;
  /** Days the incumbent serves alone before the rollout starts (default 3). */
  warmupDays?: number;
  /** Days of rollout (default 5). */
  rolloutDays?: number;
  /** Overrides merged into the shop (default: the default shop at 3,000 sessions a day, 20,000 users). */
  overrides?: ScenarioInput;
  /** The rollout plan (default PLAN: 10 → 50 → 100 %, a day per stage, 500 decisions per arm). */
  plan?: { stages: number[]; minHold: string; minSamplePerArm: number };
}

export interface WarmRolloutResult {
  warm: boolean;
  warmStart?: { decisions: number; rounds: number };
  timeline: RolloutTimelineEntry[];
  finalStatus?: string;
  finalStage?: number;
  /** The rollout as the API shows it at the end (decision reasons included). */
  final?: Record<string, unknown>;
  arms: { candidate?: PolicyReport; incumbent?: PolicyReport };
  wallSeconds: number;
}

/** A plan this shop can finish in days: 10 → 50 → 100%, a day per stage, 500 decisions per arm. */
const PLAN = { stages: [10, 50, 100], minHold: "24h", minSamplePerArm: 500 };

/**
 * A learning candidate rolled out against the incumbent it equals: both are the product default spec, the
 * incumbent has served the shop alone for `warmupDays`. Cold, the candidate starts from its prior on 10% of
 * traffic; warm, it first learns from the log (app/warm-start.ts). The guardrails compare the two arms'
 * CTR, conversion and revenue per session: an equal policy should not be rolled back, and a cold start
 * makes it look worse than it is.
 */
export async function warmRolloutExperiment(o: WarmRolloutOptions): Promise<WarmRolloutResult> {
  const scenario = resolveScenario("default", {
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    users: { count: 20_000 },
    sessions: { perDay: 3000 },
    ...o.overrides,
  });
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const engine = await createEngine({ dataDir: ":memory:", clock, config: { logLevel: "silent" } });
  const target = createInProcessTarget(engine);
  const started = performance.now();
  try {
    const warmupMs = (o.warmupDays ?? 3) * DAY;
    await runSimulation({ scenario, target, mode: "fast", clock, durationMs: warmupMs, runId: "warmup" });
    let warmStart: WarmRolloutResult["warmStart"];
    const candidate = { id: "candidate", ...DEFAULT_POLICY_SPEC };
    await engine.parts.policies.register(
      candidate,
      o.warm
        ? async (p) => {
            const r = await engine.warmStart(p);
            warmStart = { decisions: r.decisions, rounds: r.rounds };
          }
        : undefined,
    );
    const rollout = { incumbent: { id: "default", ...DEFAULT_POLICY_SPEC }, candidate, plan: o.plan ?? PLAN };
    const report = await runSimulation({
      scenario: { ...scenario, rollout: { ...rollout, ctrRatio: 1 } },
      target,
      mode: "fast",
      clock,
      durationMs: (o.rolloutDays ?? 5) * DAY,
      runId: "rollout",
    });
    if (!report.rollout) {
      throw new Error(`the rollout did not start: ${JSON.stringify(report.errorsByCode)}`);
    }
    const arm = (id: string) => report.policies.find((p) => p.policyId === id);
    const last = report.rollout?.timeline.at(-1);
    const candidateArm = arm("candidate");
    const incumbentArm = arm("default");
    return {
      warm: o.warm,
      ...(warmStart ? { warmStart } : {}),
      timeline: report.rollout?.timeline ?? [],
      ...(last?.status !== undefined ? { finalStatus: last.status } : {}),
      ...(last?.stage !== undefined ? { finalStage: last.stage } : {}),
      ...(report.rollout.final ? { final: report.rollout.final } : {}),
      arms: {
        ...(candidateArm ? { candidate: candidateArm } : {}),
        ...(incumbentArm ? { incumbent: incumbentArm } : {}),
      },
      wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await target.close();
  }
}
