import { MINUTE_MS } from "../app/minute-aggregates.js";
import type { MinuteReader } from "../app/shared-minutes.js";
import type { PolicyHour } from "./activity.js";

/** The overview's window, as the activity view's (activity.ts: the last 60 minutes, the current one included). */
const WINDOW_MINUTES = 60;

/**
 * The overview's per-policy last hour and decisions per minute from the shared per-minute aggregates: in
 * scale-out the `dashboard-fold` duty counts the whole cluster's decisions there (duties/dashboard-fold.ts),
 * while this node's activity view (activity.ts) sees only the traffic it served itself. Same shapes as the
 * activity view's, so the page does not care which it gets; rewards count as the fold attributes them (to the
 * decision's minute).
 */
export function clusterActivity(
  minutes: MinuteReader,
  now: number,
): { policiesLastHour: PolicyHour[]; decisionsPerMinute: { minute: number; decisions: number }[] } {
  const last = Math.floor(now / MINUTE_MS);
  const from = (last - WINDOW_MINUTES + 1) * MINUTE_MS;
  const to = (last + 1) * MINUTE_MS;
  const perMinute = new Map<number, number>();
  const policiesLastHour: PolicyHour[] = [];
  for (const series of minutes.seriesNames()) {
    if (!series.startsWith("policy:")) continue;
    let decisions = 0;
    let rewardedDecisions = 0;
    let rewardSum = 0;
    for (const m of minutes.range(series, from, to)) {
      decisions += m.decisions;
      rewardedDecisions += m.rewardedDecisions;
      rewardSum += m.rewardSum;
      perMinute.set(m.minute, (perMinute.get(m.minute) ?? 0) + m.decisions);
    }
    if (decisions === 0) continue;
    policiesLastHour.push({
      policy: series.slice("policy:".length),
      decisions,
      rewardedDecisions,
      rewardedShare: rewardedDecisions / decisions,
      rewardMean: rewardSum / decisions,
    });
  }
  policiesLastHour.sort((a, b) => b.decisions - a.decisions || a.policy.localeCompare(b.policy));
  const decisionsPerMinute = [];
  for (let m = last - WINDOW_MINUTES + 1; m <= last; m++) {
    decisionsPerMinute.push({ minute: m * MINUTE_MS, decisions: perMinute.get(m * MINUTE_MS) ?? 0 });
  }
  return { policiesLastHour, decisionsPerMinute };
}
