import { fixedHalfWidth95, mixtureHalfWidth } from "./confidence-sequence.js";
import type { ArmCounters, GuardrailMetric, RolloutConfig } from "./rollout-types.js";
import { GUARDRAIL_METRICS } from "./rollout-types.js";

/**
 * Guardrail metrics from running counters. The analysis unit is the session (userId, sessionId), so
 * decisions and clicks of one session are not treated as independent:
 * - ctr: share of decisions with >= 1 click, a ratio of per-session sums (clicked / decisions); variance by
 *   the delta method for ratio metrics (Deng et al. 2018, "Applying the Delta Method in Metric Analytics").
 * - conversion: sessions with a purchase / sessions (Bernoulli per session).
 * - revenuePerSession: mean of per-session purchase value (sessions without a purchase count 0).
 */
export interface MetricEstimate {
  mean: number;
  /** Variance of the mean. */
  variance: number;
  /** Fixed-sample 95 % interval, for display. */
  ci: [number, number];
  n: number;
}

export function estimateMetric(c: ArmCounters, metric: GuardrailMetric): MetricEstimate | undefined {
  const n = c.sessions;
  if (n < 2) return undefined;
  let mean: number;
  let variance: number;
  if (metric === "ctr") {
    if (c.decisions === 0) return undefined;
    const md = c.decisions / n;
    const mc = c.clickedDecisions / n;
    const vd = (c.sumDecisionsSq - n * md * md) / (n - 1);
    const vc = (c.sumClickedSq - n * mc * mc) / (n - 1);
    const cov = (c.sumClickedDecisions - n * mc * md) / (n - 1);
    mean = c.clickedDecisions / c.decisions;
    variance = Math.max(0, (vc - 2 * mean * cov + mean * mean * vd) / (n * md * md));
  } else if (metric === "conversion") {
    mean = c.convertedSessions / n;
    variance = (mean * (1 - mean)) / n;
  } else {
    mean = c.revenue / n;
    variance = Math.max(0, (c.sumRevenueSq - n * mean * mean) / (n - 1) / n);
  }
  const hw = fixedHalfWidth95(variance);
  return { mean, variance, ci: [mean - hw, mean + hw], n };
}

export type GuardrailVerdict = "regression" | "inconclusive" | "ok" | "insufficient" | "disabled";

export interface GuardrailResult {
  metric: GuardrailMetric;
  verdict: GuardrailVerdict;
  candidate?: MetricEstimate;
  incumbent?: MetricEstimate;
  /** Relative lift candidate / incumbent - 1 and its always-valid interval. */
  lift?: number;
  liftInterval?: [number, number];
  maxRelativeDrop: number;
  alpha: number;
}

/**
 * Tests one guardrail. Regression means the always-valid upper bound of the relative lift is below
 * -maxRelativeDrop: we are confident the candidate is worse by more than tolerated. Under a candidate that
 * is at most that much worse, this happens with probability <= alpha at any time, however often we look.
 * "ok" means the lower bound is above -maxRelativeDrop (non-inferiority shown); otherwise inconclusive.
 */
export function testGuardrail(
  metric: GuardrailMetric,
  candidate: ArmCounters,
  incumbent: ArmCounters,
  config: RolloutConfig,
): GuardrailResult {
  const g = config.guardrails[metric];
  const alpha = config.falseAlarmRate / Math.max(1, enabledMetrics(config).length);
  const base = { metric, maxRelativeDrop: g.maxRelativeDrop, alpha };
  if (!g.enabled) return { ...base, verdict: "disabled" };
  const c = estimateMetric(candidate, metric);
  const i = estimateMetric(incumbent, metric);
  if (!c || !i || i.mean <= 0 || !enoughData(metric, candidate, incumbent, config)) {
    return { ...base, verdict: "insufficient", candidate: c, incumbent: i };
  }
  // Delta method for the ratio m_c / m_i (arms are independent): written without dividing by m_c.
  const lift = c.mean / i.mean - 1;
  const varLift = c.variance / i.mean ** 2 + (c.mean ** 2 * i.variance) / i.mean ** 4;
  const hw = mixtureHalfWidth(varLift, alpha, config.csTuningStderr ** 2);
  const liftInterval: [number, number] = [lift - hw, lift + hw];
  let verdict: GuardrailVerdict = "inconclusive";
  if (liftInterval[1] < -g.maxRelativeDrop) verdict = "regression";
  else if (liftInterval[0] > -g.maxRelativeDrop) verdict = "ok";
  return { ...base, verdict, candidate: c, incumbent: i, lift, liftInterval };
}

/**
 * The plug-in variance is only trustworthy once the candidate arm should have seen some events: a
 * candidate with 3 sessions and no purchase would otherwise show a zero-variance "drop" of 100 %. The
 * expectation uses the incumbent's rate, so a candidate that never converts is still tested in time.
 */
function enoughData(
  metric: GuardrailMetric,
  candidate: ArmCounters,
  incumbent: ArmCounters,
  config: RolloutConfig,
): boolean {
  if (candidate.sessions < config.minSessionsForTest || incumbent.sessions < config.minSessionsForTest) return false;
  const expected =
    metric === "ctr"
      ? (candidate.decisions * incumbent.clickedDecisions) / Math.max(1, incumbent.decisions)
      : (candidate.sessions * incumbent.convertedSessions) / Math.max(1, incumbent.sessions);
  return expected >= config.minExpectedEvents;
}

export function enabledMetrics(config: RolloutConfig): GuardrailMetric[] {
  return GUARDRAIL_METRICS.filter((m) => config.guardrails[m].enabled);
}

export function testGuardrails(
  candidate: ArmCounters,
  incumbent: ArmCounters,
  config: RolloutConfig,
): GuardrailResult[] {
  return GUARDRAIL_METRICS.map((m) => testGuardrail(m, candidate, incumbent, config));
}
