import { emptyCounts, MINUTE_MS, type MinuteCounts, type MinuteRow } from "../app/minute-aggregates.js";
import { toIso } from "../core/clock.js";
import {
  type Estimate,
  meanInterval,
  meanMoments,
  proportionMoments,
  relativeLift,
  wilson,
} from "../core/intervals.js";

export const TIMESERIES_METRICS = ["ctr", "conversion", "revenuePerSession"] as const;
export type TimeseriesMetric = (typeof TIMESERIES_METRICS)[number];
export const STEPS = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: 1440 * MINUTE_MS } as const;
export type Step = keyof typeof STEPS;
/** At most this many points per series (a chart is a few hundred pixels wide). */
export const MAX_POINTS = 1500;

/** One point: the step starting at `t`, its estimate and the numbers behind it. */
export interface Point extends Estimate {
  t: string;
  /** Successes for a rate (rewarded decisions, converting sessions), revenue for revenue per session. */
  sum: number;
}

export interface SeriesView {
  /** `policy` for a policy; `candidate` / `incumbent` for a rollout's arms. */
  name: string;
  policy: string;
  points: Point[];
  /** Over the whole window. */
  total: Estimate & { sum: number };
}

export interface LiftPoint {
  t: string;
  value: number | null;
  interval: [number, number] | null;
}

/** Sums a series' minutes into steps of `stepMs` from `from` (aligned) to `to`, every step present. */
export function bucketize(rows: readonly MinuteRow[], from: number, to: number, stepMs: number): MinuteCounts[] {
  const n = Math.max(0, Math.ceil((to - from) / stepMs));
  const out = Array.from({ length: n }, emptyCounts);
  for (const r of rows) {
    const i = Math.floor((r.minute - from) / stepMs);
    const b = out[i];
    if (!b || r.minute < from || r.minute >= to) continue;
    for (const key of Object.keys(b) as (keyof MinuteCounts)[]) b[key] += r[key];
  }
  return out;
}

export function sumCounts(all: readonly MinuteCounts[]): MinuteCounts {
  const total = emptyCounts();
  for (const c of all) for (const key of Object.keys(total) as (keyof MinuteCounts)[]) total[key] += c[key];
  return total;
}

/**
 * A metric's estimate from counts: CTR = rewarded decisions / decisions and conversion = converting sessions /
 * sessions with Wilson intervals; revenue per session with the normal-approximation interval over sessions.
 */
export function estimate(c: MinuteCounts, metric: TimeseriesMetric): Estimate & { sum: number } {
  if (metric === "ctr") return { ...wilson(c.rewardedDecisions, c.decisions), sum: c.rewardedDecisions };
  if (metric === "conversion") return { ...wilson(c.conversions, c.sessions), sum: c.conversions };
  return { ...meanInterval(c.revenue, c.revenueSq, c.sessions, 0), sum: c.revenue };
}

function moments(c: MinuteCounts, metric: TimeseriesMetric) {
  if (metric === "ctr") return proportionMoments(c.rewardedDecisions, c.decisions);
  if (metric === "conversion") return proportionMoments(c.conversions, c.sessions);
  return meanMoments(c.revenue, c.revenueSq, c.sessions);
}

/** Relative lift of the candidate over the incumbent with its interval (intervals.ts), or nulls. */
export function lift(candidate: MinuteCounts, incumbent: MinuteCounts, metric: TimeseriesMetric) {
  const l = relativeLift(moments(candidate, metric), moments(incumbent, metric));
  return { value: l?.value ?? null, interval: l?.interval ?? null };
}

/** The points and the window's total of one series. */
export function seriesView(
  name: string,
  policy: string,
  steps: readonly MinuteCounts[],
  from: number,
  stepMs: number,
  metric: TimeseriesMetric,
): SeriesView {
  return {
    name,
    policy,
    points: steps.map((c, i) => ({ t: toIso(from + i * stepMs), ...estimate(c, metric) })),
    total: estimate(sumCounts(steps), metric),
  };
}

/** The lift per step and over the window, from the two arms' steps. */
export function liftView(
  candidate: readonly MinuteCounts[],
  incumbent: readonly MinuteCounts[],
  from: number,
  stepMs: number,
  metric: TimeseriesMetric,
): { points: LiftPoint[]; total: { value: number | null; interval: [number, number] | null } } {
  return {
    points: candidate.map((c, i) => ({
      t: toIso(from + i * stepMs),
      ...lift(c, incumbent[i] ?? emptyCounts(), metric),
    })),
    total: lift(sumCounts(candidate), sumCounts(incumbent), metric),
  };
}

/**
 * The window a request asks for, aligned to its step: `from` down, `to` up (exclusive); without `to`, up to
 * the end of the step holding now (the current, partial step included). Defaults to the last day by minutes.
 */
export function resolveWindow(
  now: number,
  query: { from?: number; to?: number; step?: Step },
): { from: number; to: number; step: Step; stepMs: number } {
  const to0 = query.to ?? now;
  const from0 = query.from ?? to0 - STEPS.day;
  const span = to0 - from0;
  const step = query.step ?? (span <= STEPS.day ? "minute" : span <= 60 * STEPS.day ? "hour" : "day");
  const stepMs = STEPS[step];
  const from = Math.floor(from0 / stepMs) * stepMs;
  const to = query.to === undefined ? (Math.floor(now / stepMs) + 1) * stepMs : Math.ceil(to0 / stepMs) * stepMs;
  return { from, to: to > from ? to : from + stepMs, step, stepMs };
}
