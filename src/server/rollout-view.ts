import type { RolloutStatus } from "../app/rollout-controller.js";
import { toIso } from "../core/clock.js";
import { type Estimate, meanInterval, wilson } from "../core/intervals.js";
import { stagePercent } from "../rollout/assign-arm.js";
import { decideRollout } from "../rollout/decide-rollout.js";
import { testGuardrails } from "../rollout/guardrail-stats.js";
import type { ArmCounters, AuditEntry, GuardrailMetric, Rollout } from "../rollout/rollout-types.js";
import { ARMS, GUARDRAIL_METRICS } from "../rollout/rollout-types.js";
import { srmCheck } from "../rollout/srm.js";

/**
 * What GET /v1/rollouts/{id} shows (a response view: the controller's `status` shaped for the wire): stage,
 * shares, per-arm metrics with 95 % intervals, the guardrails' always-valid lift intervals and verdicts, the SRM
 * check, what the next tick would decide, and the audit history. Live numbers while the rollout runs; the
 * counters frozen at its last transition once it ended.
 */
export function describeRollout({ rollout: r, live, history, now }: RolloutStatus) {
  const frozen = lastCounters(history);
  const arms = live?.arms ?? frozen;
  const guardrails = arms ? testGuardrails(arms.candidate, arms.incumbent, r.config) : [];
  const srm = live && srmCheck(live.stageUsers.candidate, live.stageUsers.incumbent, r.candidateShare);
  const next = live && decideRollout(r, live, now);
  return {
    ...summarizeRollout(r),
    config: { ...r.config, minHold: `${r.config.minHoldMs / 3_600_000}h` },
    arms: arms ? Object.fromEntries(ARMS.map((a) => [a, armView(arms[a])])) : null,
    guardrails: guardrails.map((g) => ({
      metric: g.metric,
      verdict: g.verdict,
      lift: g.lift ?? null,
      liftInterval: g.liftInterval ?? null,
      maxRelativeDrop: g.maxRelativeDrop,
      alpha: g.alpha,
    })),
    srm: srm ? { ...srm, plannedShare: r.candidateShare, stageUsers: live?.stageUsers } : null,
    next: next
      ? { action: next.action, reasons: next.reasons.map((x) => ({ code: x.code, message: x.message })) }
      : null,
    history: history.map((e) => ({ ...e, at: toIso(e.at) })),
  };
}

/** The short form for lists and transitions. */
export function summarizeRollout(r: Rollout) {
  return {
    id: r.id,
    candidate: r.candidate,
    incumbent: r.incumbent,
    status: r.status,
    /** Current candidate percentage. */
    stage: stagePercent(r),
    stageIndex: r.stageIndex,
    stages: r.config.stages,
    shares: { candidate: r.candidateShare, incumbent: 1 - r.candidateShare },
    candidateShare: r.candidateShare,
    hashVersion: r.hashVersion,
    salt: r.salt ?? r.id,
    stageStartedAt: toIso(r.stageStartedAt),
    createdAt: toIso(r.createdAt),
    updatedAt: toIso(r.updatedAt),
  };
}

/**
 * One arm's metrics for display, with 95 % intervals that stay where the metric can go: Wilson for the
 * rates (CTR over decisions, conversion over sessions; dashboard/intervals.ts), the normal approximation
 * over sessions clipped at 0 for revenue per session. Null ("no data yet") without data (revenue: below two
 * sessions); never [0, 0].
 * The guardrails keep their own always-valid intervals on the session-clustered estimates (guardrail-stats.ts).
 */
function armView(c: ArmCounters) {
  const estimates: Record<GuardrailMetric, Estimate> = {
    ctr: wilson(c.clickedDecisions, c.decisions),
    conversion: wilson(c.convertedSessions, c.sessions),
    revenuePerSession: meanInterval(c.revenue, c.sumRevenueSq, c.sessions, 0),
  };
  const metrics = Object.fromEntries(
    GUARDRAIL_METRICS.map((m) => {
      const e = estimates[m];
      // Below two sessions revenue has no interval yet: "no data yet" rather than a bare number.
      return [m, e.value === null || e.interval === null ? null : { value: e.value, ci95: e.interval, n: e.count }];
    }),
  );
  const { decisions, clickedDecisions, clicks, sessions, convertedSessions, purchases, revenue } = c;
  return { decisions, clickedDecisions, clicks, sessions, convertedSessions, purchases, revenue, metrics };
}

function lastCounters(history: AuditEntry[]): Record<"candidate" | "incumbent", ArmCounters> | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const stats = history[i]?.stats as { counters?: Record<"candidate" | "incumbent", ArmCounters> } | undefined;
    if (stats?.counters) return stats.counters;
  }
  return undefined;
}
