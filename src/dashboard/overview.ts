import type { EngineParts } from "../app/engine-parts.js";
import { MINUTE_MS } from "../app/minute-aggregates.js";
import { toIso } from "../core/clock.js";
import { wilson } from "../core/intervals.js";
import type { DashboardActivity, PolicyHour, RecentDecision } from "./activity.js";
import { clusterActivity } from "./cluster-activity.js";

/** The serving recommender model, as much as the dashboard shows of it. */
export interface ModelInfo {
  name: string;
  version: string;
  trainedAt: number;
}

type Values = { value: number; labels: Partial<Record<string, string | number>> }[];

/**
 * `GET /v1/overview`: the counts the dashboard needs that no other route gives, from cheap in-process
 * state only: the engine's Prometheus counters (totals since this process started), the learning loop's
 * pending windows, the serving model, and the activity view (per-policy last hour, events by type, recent
 * decisions). Never scans the logs, so it can be polled every couple of seconds under load.
 */
export async function buildOverview(
  parts: EngineParts,
  activity: DashboardActivity,
  model: ModelInfo | undefined,
  startedAt: number,
) {
  const now = parts.clock.now();
  const m = parts.metrics;
  const [decisions, events, rewards, joins, updates, fallbacks, latency] = await Promise.all([
    m.decisions.get(),
    m.events.get(),
    m.rewards.get(),
    m.joins.get(),
    m.policyUpdates.get(),
    m.fallbacks.get(),
    m.httpDuration.get(),
  ]);
  const byPolicy = sumBy(decisions.values, "policy");
  // Scale-out: the last hour is the whole cluster's (the dashboard-fold duty's minutes), not this node's.
  const minutes = parts.dashboard?.aggregates;
  const cluster = minutes?.shared ? clusterActivity(minutes, now) : undefined;
  const hour = new Map((cluster?.policiesLastHour ?? activity.policiesLastHour(now)).map((p) => [p.policy, p]));
  const updatesByPolicy = sumBy(updates.values, "policy");
  const policyIds = new Set([...byPolicy.keys(), ...hour.keys()]);
  return {
    now: toIso(now),
    startedAt: toIso(startedAt),
    uptimeSeconds: Math.max(0, Math.round((now - startedAt) / 1000)),
    /**
     * Whose traffic `policies[].lastHour` and `decisionsPerMinute` count: this process's, or in scale-out the whole
     * cluster's (totals, events, rewards and recent decisions are always this process's own).
     */
    scope: cluster ? ("cluster" as const) : ("process" as const),
    defaultPolicy: parts.policies.defaultPolicyId ?? null,
    totals: {
      decisions: total(decisions.values),
      eventsAccepted: sumBy(events.values, "status").get("accepted") ?? 0,
      rewardsAccepted: sumBy(rewards.values, "outcome").get("accepted") ?? 0,
      policyUpdates: total(updates.values),
    },
    decisionsBySource: Object.fromEntries(sumBy(decisions.values, "source")),
    policies: [...policyIds].sort().map((id) => ({
      ...policyRow(id, byPolicy, hour.get(id), updatesByPolicy),
      learned: learnedReward(parts, id, now),
    })),
    events: {
      byStatus: Object.fromEntries(sumBy(events.values, "status")),
      byType: activity.eventsByType(now),
    },
    rewards: {
      byOutcome: Object.fromEntries(sumBy(rewards.values, "outcome")),
      bySource: Object.fromEntries(sumBy(rewards.values, "source")),
    },
    joins: Object.fromEntries(sumBy(joins.values, "status")),
    fallbacks: Object.fromEntries(sumBy(fallbacks.values, "kind")),
    learning: {
      pendingWindows: parts.learning.size,
      closedEarlyWindows: parts.learning.closedEarly,
      pendingBytes: parts.learning.bytes,
      windowMs: parts.config.rewards.window,
      aggregation: parts.config.rewards.aggregation,
      defaultReward: parts.config.rewards.defaultReward,
    },
    model: model ? { name: model.name, version: model.version, trainedAt: toIso(model.trainedAt) } : null,
    rankLatency: rankLatency(latency.values),
    decisionsPerMinute: (cluster?.decisionsPerMinute ?? activity.decisionsPerMinute(now)).map((p) => ({
      minute: toIso(p.minute),
      decisions: p.decisions,
    })),
    recentDecisions: activity.recent().map(recentView),
    tracking: { forgottenDecisions: activity.forgotten },
  };
}

export type Overview = Awaited<ReturnType<typeof buildOverview>>;

/**
 * The mean reward a policy learned per decision, over decisions whose reward window has closed (within the
 * aggregates' retention): what arrived, and the default reward for decisions that got none, as the
 * learning loop counts them when a window closes. Windows still open are left out: with "earliest"
 * aggregation a policy learns a reward as it arrives and the default only at the close, so counting open
 * windows reads 1.000 before the first window closes. Null before any window closed. Assumes activation at
 * decision time (a deferred activation's window closes later, so its decision may be counted early).
 */
function learnedReward(parts: EngineParts, policy: string, now: number) {
  const aggregates = parts.dashboard?.aggregates;
  if (!aggregates) return null;
  const { window, defaultReward } = parts.config.rewards;
  // A minute's decisions were made before its end; their windows closed by end + window.
  const closedBefore = now - window - MINUTE_MS + 1;
  let decisions = 0;
  let sum = 0;
  for (const m of aggregates.range(`policy:${policy}`, now - aggregates.retention, closedBefore)) {
    decisions += m.decisions;
    sum += m.rewardSum + defaultReward * (m.decisions - m.rewardedDecisions);
  }
  return { decisions, rewardMean: decisions > 0 ? sum / decisions : null };
}

function policyRow(
  id: string,
  totals: Map<string, number>,
  hour: PolicyHour | undefined,
  updates: Map<string, number>,
) {
  return {
    policy: id,
    decisionsTotal: totals.get(id) ?? 0,
    updatesTotal: updates.get(id) ?? 0,
    lastHour: {
      decisions: hour?.decisions ?? 0,
      rewardedDecisions: hour?.rewardedDecisions ?? 0,
      rewardedShare: hour?.rewardedShare ?? null,
      /** 95 % Wilson interval of the rewarded share; null before any decision ("no data yet"). */
      rewardedShareInterval: wilson(hour?.rewardedDecisions ?? 0, hour?.decisions ?? 0).interval,
      rewardMean: hour?.rewardMean ?? null,
    },
  };
}

/**
 * A recent decision as the overview shows it: without the user id (issue 14, defect 7: the overview is a
 * summary, and user ids are personal data); the dashboard looks the user up through the decision, which
 * needs a key that may read decisions.
 */
function recentView({ userId: _userId, ...d }: RecentDecision) {
  return { ...d, at: toIso(d.at) };
}

function total(values: Values): number {
  return values.reduce((acc, v) => acc + v.value, 0);
}

function sumBy(values: Values, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) {
    const key = String(v.labels[label] ?? "");
    out.set(key, (out.get(key) ?? 0) + v.value);
  }
  return out;
}

/**
 * Rank latency since start from the HTTP histogram: the upper bound of the bucket holding each quantile
 * (a Prometheus histogram knows no finer), in milliseconds; null before any rank request.
 */
function rankLatency(values: (Values[number] & { metricName?: string })[]) {
  const buckets = values
    .filter((v) => v.metricName?.endsWith("_bucket") && v.labels.route === "/v1/rank" && v.labels.method === "POST")
    .map((v) => ({ le: Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.count ?? 0;
  if (count === 0) return null;
  const upper = (q: number) => {
    const b = buckets.find((x) => x.count >= q * count);
    return b && Number.isFinite(b.le) ? b.le * 1000 : null;
  };
  return { requests: count, p50MsAtMost: upper(0.5), p99MsAtMost: upper(0.99) };
}
