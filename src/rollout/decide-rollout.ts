import { testGuardrails } from "./guardrail-stats.js";
import type { OpeGateResult, Reason, Rollout, RolloutConfig, RolloutDecision, RolloutStats } from "./rollout-types.js";
import { TERMINAL_STATUSES } from "./rollout-types.js";
import { srmCheck } from "./srm.js";

/**
 * The rollout's one decision, pure (GrowthBook safe rollouts: decide here, apply in the controller).
 * Order: OPE gate (before the first stage) -> SRM (halt: the data cannot be trusted) -> guardrails
 * (rollback on a regression) -> pause (holds advancing only: safety actions still fire while paused)
 * -> hold time and sample -> advance, or complete when the next stage is 100 %.
 */
export function decideRollout(
  rollout: Rollout,
  stats: RolloutStats,
  now: number,
  config: RolloutConfig = rollout.config,
): RolloutDecision {
  if (TERMINAL_STATUSES.includes(rollout.status)) {
    return hold({ code: "terminal", message: `rollout is ${rollout.status}`, status: rollout.status });
  }
  if (rollout.stageIndex < 0) return decideGate(stats.opeGate, config);

  const srm = srmCheck(stats.stageUsers.candidate, stats.stageUsers.incumbent, rollout.candidateShare);
  const stageUsers = stats.stageUsers.candidate + stats.stageUsers.incumbent;
  const srmP = srm && (config.srmTest === "chi-square" ? srm.pValue : srm.sequentialPValue);
  if (srm && srmP !== undefined && stageUsers >= config.srmMinUsers && srmP < config.srmPValue) {
    const p = srm.sequentialPValue.toExponential(2);
    const message = `sample ratio mismatch (${config.srmTest}): anytime-valid p=${p}, chi-square p=${srm.pValue.toExponential(2)}, threshold ${config.srmPValue}`;
    return { action: "halt", reasons: [{ code: "srm", message, ...srm, plannedShare: rollout.candidateShare }] };
  }

  const guardrails = testGuardrails(stats.arms.candidate, stats.arms.incumbent, config);
  const regressions = guardrails.filter((g) => g.verdict === "regression");
  if (regressions.length > 0) {
    return {
      action: "rollback",
      reasons: regressions.map((g) => ({
        code: "guardrail_regression",
        message: `${g.metric}: lift upper bound ${fmt(g.liftInterval?.[1])} < -${g.maxRelativeDrop}`,
        ...g,
      })),
    };
  }
  const guardrailReasons: Reason[] = guardrails
    .filter((g) => g.verdict !== "disabled")
    .map((g) => ({ code: `guardrail_${g.verdict}`, message: `${g.metric}: ${g.verdict}`, ...g }));

  if (rollout.status === "paused") {
    return hold({ code: "paused", message: "paused by an admin" }, ...guardrailReasons);
  }
  const heldMs = now - rollout.stageStartedAt;
  const sample = Math.min(stats.arms.candidate.decisions, stats.arms.incumbent.decisions);
  const waits: Reason[] = [];
  if (heldMs < config.minHoldMs) {
    waits.push({ code: "min_hold", message: "stage has not held long enough", heldMs, minHoldMs: config.minHoldMs });
  }
  if (sample < config.minSamplePerArm) {
    waits.push({ code: "min_sample", message: "not enough decisions per arm", sample, min: config.minSamplePerArm });
  }
  if (waits.length > 0) return hold(...waits, ...guardrailReasons);

  const next = config.stages[rollout.stageIndex + 1];
  const ready: Reason = {
    code: "stage_held",
    message: "held long enough, enough samples, no regression",
    heldMs,
    sample,
  };
  if (next === undefined || next >= 100) return { action: "complete", reasons: [ready, ...guardrailReasons] };
  return { action: "advance", reasons: [ready, ...guardrailReasons] };
}

/**
 * The OPE gate before the first stage, on d = candidate − incumbent and the margin −tolerance·|incumbent|:
 * - pass when the one-sided 95 % lower bound of d is above the margin (non-inferiority shown);
 * - roll back when the one-sided 95 % upper bound of d is below it (harm shown), and when the logs were
 *   precise enough to show non-inferiority and did not;
 * - otherwise the logs do not suffice (the bound is more than two margins away): advance to the first
 *   stage, where the online guardrails judge, with the reason `ope_gate_inconclusive`. Decided after a
 *   simulated rollout: a near-greedy logging policy (the product default, a 0.5 % floor) gives importance
 *   weights in the thousands for any other policy, so "roll back unless non-inferiority is shown" rolled
 *   back every candidate, good ones included, before a single user saw it.
 * Standard errors are read off the 95 % intervals; treating the two estimates as independent overstates
 * the variance (they share logs), which errs on the cautious side.
 */
export function decideGate(result: OpeGateResult | null | undefined, config: RolloutConfig): RolloutDecision {
  if (!config.opeGate.enabled)
    return { action: "advance", reasons: [{ code: "ope_gate_disabled", message: "no OPE gate" }] };
  if (result === undefined) return hold({ code: "ope_gate_pending", message: "OPE gate not evaluated yet" });
  if (result === null) {
    return { action: "advance", reasons: [{ code: "ope_gate_skipped", message: "not enough logs for the OPE gate" }] };
  }
  const se = (ci: [number, number]) => (ci[1] - ci[0]) / (2 * 1.959964);
  const diff = result.candidate.value - result.incumbent.value;
  const lower = diff - 1.644854 * Math.hypot(se(result.candidate.ci), se(result.incumbent.ci));
  const margin = -config.opeGate.tolerance * Math.abs(result.incumbent.value);
  const halfWidth = diff - lower;
  const upper = diff + halfWidth;
  const data = { ...result, difference: diff, lowerBound95: lower, upperBound95: upper, margin };
  if (lower >= margin)
    return { action: "advance", reasons: [{ code: "ope_gate_passed", message: "OPE gate passed", ...data }] };
  if (upper >= margin && halfWidth > 2 * Math.abs(margin)) {
    const message = `OPE gate inconclusive: ±${fmt(halfWidth)} on the difference, the tolerance is ${fmt(-margin)}; the first stage decides online`;
    return { action: "advance", reasons: [{ code: "ope_gate_inconclusive", message, ...data }] };
  }
  const message = `OPE gate failed: lower bound ${fmt(lower)} < ${fmt(margin)}`;
  return { action: "rollback", reasons: [{ code: "ope_gate_failed", message, ...data }] };
}

/** Applies a decision to the state (pure): the new stage index, share and status. */
export function applyDecision(rollout: Rollout, decision: RolloutDecision, now: number): Rollout {
  const { stages } = rollout.config;
  switch (decision.action) {
    case "hold":
      return rollout;
    case "advance": {
      const stageIndex = Math.min(rollout.stageIndex + 1, stages.length - 1);
      const share = (stages[stageIndex] ?? 100) / 100;
      const status = share >= 1 ? "completed" : rollout.status;
      return { ...rollout, stageIndex, candidateShare: share, status, stageStartedAt: now, updatedAt: now };
    }
    case "complete":
      return {
        ...rollout,
        stageIndex: stages.length - 1,
        candidateShare: 1,
        status: "completed",
        stageStartedAt: now,
        updatedAt: now,
      };
    case "rollback":
      return { ...rollout, candidateShare: 0, status: "rolled_back", updatedAt: now };
    case "halt":
      return { ...rollout, candidateShare: 0, status: "halted", updatedAt: now };
  }
}

function hold(...reasons: Reason[]): RolloutDecision {
  return { action: "hold", reasons };
}

function fmt(x: number | undefined): string {
  return x === undefined ? "?" : x.toFixed(4);
}
