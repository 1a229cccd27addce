/**
 * Diagnostics shown with every estimate: how much the log can say about the target.
 * - mean weight: E[w] = 1 when the logger covers the target (a check on propensities and support).
 * - effective sample size ESS = (Σw)² / Σw² (Kong 1992; Owen 2013 §9.3): how many on-policy rounds the
 *   weighted log is worth.
 * - support deficiency: share of rounds where the target puts mass on actions the logger could not take
 *   (logging probability 0), where IPS is biased (Sachdeva, Su & Joachims 2020). Null when the logger's
 *   full distribution is unknown.
 */
export interface Diagnostics {
  n: number;
  meanWeight: number;
  maxWeight: number;
  ess: number;
  /** ESS / n. */
  essShare: number;
  supportDeficiency: number | null;
  /** Share of rounds where the target gives the logged action probability 0. */
  zeroWeightShare: number;
  warnings: string[];
}

export interface Histogram {
  /** Bin edges, length bins + 1. */
  edges: number[];
  counts: number[];
}

export function diagnose(weights: Float64Array, deficientRounds: number | null, knownRounds: number): Diagnostics {
  const n = weights.length;
  let sum = 0;
  let sq = 0;
  let max = 0;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    sum += w;
    sq += w * w;
    if (w > max) max = w;
    if (w === 0) zeros++;
  }
  const ess = sq > 0 ? (sum * sum) / sq : 0;
  const d: Diagnostics = {
    n,
    meanWeight: n > 0 ? sum / n : Number.NaN,
    maxWeight: max,
    ess,
    essShare: n > 0 ? ess / n : 0,
    supportDeficiency: deficientRounds === null || knownRounds === 0 ? null : deficientRounds / knownRounds,
    zeroWeightShare: n > 0 ? zeros / n : 0,
    warnings: [],
  };
  d.warnings = warningsFor(d);
  return d;
}

/** Plain-language reasons not to trust an estimate; thresholds are rules of thumb, stated in the text. */
function warningsFor(d: Diagnostics): string[] {
  const out: string[] = [];
  if (d.n < 100) out.push(`Only ${d.n} rounds: every estimate here is very uncertain.`);
  // Few effective rounds in absolute terms (when weights are uneven), or a tiny share of the log.
  if (d.n > 0 && ((d.ess < 30 && d.essShare < 0.9) || d.essShare < 0.05)) {
    out.push(
      `Effective sample size is ${d.ess.toFixed(1)} of ${d.n} rounds: the target rarely does what the logger did, so IPS-type estimates rest on a handful of rounds. Prefer DR/DM and collect more exploratory data.`,
    );
  }
  if (d.n >= 1000 && Math.abs(d.meanWeight - 1) > 0.1) {
    out.push(
      `The mean importance weight is ${d.meanWeight.toFixed(3)}, not 1: the logged propensities may be wrong, or the target acts where the logger seldom did. Treat IPS with suspicion; SNIPS corrects the scale.`,
    );
  }
  if (d.n > 0 && d.maxWeight > Math.max(100, 0.05 * d.n)) {
    out.push(
      `One round has weight ${d.maxWeight.toFixed(1)}: a few rounds dominate IPS and DR; consider clipping (--clip).`,
    );
  }
  if (d.supportDeficiency !== null && d.supportDeficiency > 0) {
    out.push(
      `In ${(100 * d.supportDeficiency).toFixed(1)}% of rounds the target chooses actions the logger never could: IPS and SNIPS cannot see those rewards (biased toward 0); DM/DR extrapolate with the reward model.`,
    );
  }
  return out;
}

/** Equal-width histogram of the weights over [0, max]. */
export function histogram(weights: Float64Array, bins = 20): Histogram {
  let max = 0;
  for (let i = 0; i < weights.length; i++) if ((weights[i] as number) > max) max = weights[i] as number;
  const width = max > 0 ? max / bins : 1 / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < weights.length; i++) {
    const b = Math.min(bins - 1, Math.floor((weights[i] as number) / width));
    counts[b] = (counts[b] as number) + 1;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, b) => b * width), counts };
}
