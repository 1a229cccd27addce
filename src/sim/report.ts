import type { ReferenceValues } from "./world/truth.js";

export type Route = "items" | "events" | "rank" | "reward" | "policies" | "rollouts" | "tick";

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Per-policy outcome. Definitions: CTR = clicks / impressions (slots shown); decisionCtr = share of
 * decisions with at least one click; conversion = sessions with a purchase following one of this policy's
 * decisions / sessions this policy served; revenuePerSession = that revenue / those sessions. `trueCtr` is
 * the exact expected CTR of the slates actually served (ground truth, no sampling noise); `reference` the
 * exact CTRs the oracle, popularity and uniform policies would have had on the same requests.
 */
export interface PolicyReport {
  policyId: string;
  decisions: number;
  sessions: number;
  impressions: number;
  clicks: number;
  ctr: number;
  decisionCtr: number;
  purchases: number;
  conversion: number;
  revenue: number;
  revenuePerSession: number;
  trueCtr: number;
  reference?: { oracleCtr: number; contextOracleCtr: number; popularityCtr: number; uniformCtr: number };
}

export interface RolloutTimelineEntry {
  at: string;
  stage?: number;
  status?: string;
  share?: number;
}

export interface SimReport {
  scenario: string;
  target: string;
  mode: "fast" | "realtime";
  seed: number;
  simulated: { from: string; to: string; days: number };
  wallSeconds: number;
  sessions: number;
  requests: { total: number; errors: number; perSecond: number; byRoute: Record<string, RouteReport> };
  errorsByCode: Record<string, number>;
  fallbacks: Record<string, number>;
  policies: PolicyReport[];
  /** Scheduled steps not run because the run ended first (sessions cut off at the end). */
  truncatedSteps: number;
  rollout?: { id: string; timeline: RolloutTimelineEntry[]; final?: Record<string, unknown> };
}

export interface RouteReport {
  count: number;
  errors: number;
  latencyMs: LatencySummary;
}

interface PolicyCounters {
  decisions: number;
  impressions: number;
  clickedDecisions: Set<string>;
  clicks: number;
  purchases: number;
  revenue: number;
  sessions: Set<string>;
  convertedSessions: Set<string>;
  trueClicks: number;
  refDecisions: number;
  ref: ReferenceValues;
}

export interface DecisionObservation {
  decisionId: string;
  policyId: string;
  sessionId: string;
  slotsShown: number;
  /** Exact expected clicks of the slate served. */
  trueClicks: number;
  reference?: ReferenceValues;
}

/** Collects what a run saw; `build` turns it into the report. */
export class Recorder {
  private readonly routes = new Map<Route, { latencies: number[]; errors: number }>();
  private readonly policies = new Map<string, PolicyCounters>();
  private readonly decisionPolicy = new Map<string, { policyId: string; sessionId: string }>();
  readonly errorsByCode: Record<string, number> = {};
  readonly fallbacks: Record<string, number> = {};
  sessions = 0;

  request(route: Route, ms: number, errorCode?: string): void {
    let r = this.routes.get(route);
    if (!r) {
      r = { latencies: [], errors: 0 };
      this.routes.set(route, r);
    }
    r.latencies.push(ms);
    if (errorCode !== undefined) {
      r.errors++;
      this.errorsByCode[errorCode] = (this.errorsByCode[errorCode] ?? 0) + 1;
    }
  }

  fallback(names: readonly string[]): void {
    for (const n of names) this.fallbacks[n] = (this.fallbacks[n] ?? 0) + 1;
  }

  decision(d: DecisionObservation): void {
    const c = this.counters(d.policyId);
    c.decisions++;
    c.impressions += d.slotsShown;
    c.sessions.add(d.sessionId);
    c.trueClicks += d.trueClicks;
    if (d.reference) {
      c.refDecisions++;
      c.ref.oracle += d.reference.oracle;
      c.ref.context += d.reference.context;
      c.ref.popularity += d.reference.popularity;
      c.ref.uniform += d.reference.uniform;
    }
    this.decisionPolicy.set(d.decisionId, { policyId: d.policyId, sessionId: d.sessionId });
  }

  click(decisionId: string): void {
    const owner = this.decisionPolicy.get(decisionId);
    if (!owner) return;
    const c = this.counters(owner.policyId);
    c.clicks++;
    c.clickedDecisions.add(decisionId);
  }

  purchase(decisionId: string, value: number): void {
    const owner = this.decisionPolicy.get(decisionId);
    if (!owner) return;
    const c = this.counters(owner.policyId);
    c.purchases++;
    c.revenue += value;
    c.convertedSessions.add(owner.sessionId);
  }

  policyReports(): PolicyReport[] {
    return [...this.policies.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, c]) => toPolicyReport(id, c));
  }

  routeReports(): { total: number; errors: number; byRoute: Record<string, RouteReport> } {
    const byRoute: Record<string, RouteReport> = {};
    let total = 0;
    let errors = 0;
    for (const [route, r] of this.routes) {
      byRoute[route] = { count: r.latencies.length, errors: r.errors, latencyMs: summarizeLatencies(r.latencies) };
      if (route === "tick") continue; // the engine's periodic work, not a request
      total += r.latencies.length;
      errors += r.errors;
    }
    return { total, errors, byRoute };
  }

  private counters(policyId: string): PolicyCounters {
    let c = this.policies.get(policyId);
    if (!c) {
      c = {
        decisions: 0,
        impressions: 0,
        clickedDecisions: new Set(),
        clicks: 0,
        purchases: 0,
        revenue: 0,
        sessions: new Set(),
        convertedSessions: new Set(),
        trueClicks: 0,
        refDecisions: 0,
        ref: { oracle: 0, context: 0, popularity: 0, uniform: 0 },
      };
      this.policies.set(policyId, c);
    }
    return c;
  }
}

function toPolicyReport(policyId: string, c: PolicyCounters): PolicyReport {
  const sessions = c.sessions.size;
  const slotsPerDecision = c.decisions > 0 ? c.impressions / c.decisions : 1;
  const report: PolicyReport = {
    policyId,
    decisions: c.decisions,
    sessions,
    impressions: c.impressions,
    clicks: c.clicks,
    ctr: ratio(c.clicks, c.impressions),
    decisionCtr: ratio(c.clickedDecisions.size, c.decisions),
    purchases: c.purchases,
    conversion: ratio(c.convertedSessions.size, sessions),
    revenue: round(c.revenue, 2),
    revenuePerSession: ratio(c.revenue, sessions),
    trueCtr: ratio(c.trueClicks, c.impressions),
  };
  if (c.refDecisions > 0) {
    const per = c.refDecisions * slotsPerDecision;
    report.reference = {
      oracleCtr: ratio(c.ref.oracle, per),
      contextOracleCtr: ratio(c.ref.context, per),
      popularityCtr: ratio(c.ref.popularity, per),
      uniformCtr: ratio(c.ref.uniform, per),
    };
  }
  return report;
}

/** Nearest-rank percentiles (ms, 3 decimals). */
export function summarizeLatencies(values: number[]): LatencySummary {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    count: s.length,
    mean: round(mean, 3),
    p50: round(at(0.5), 3),
    p90: round(at(0.9), 3),
    p99: round(at(0.99), 3),
    max: round(s[s.length - 1] as number, 3),
  };
}

function ratio(a: number, b: number): number {
  return b > 0 ? round(a / b, 6) : 0;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
