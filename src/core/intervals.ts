import { normalQuantile } from "./normal-quantile.js";

/** 95 % two-sided: z = Φ⁻¹(0.975). */
export const Z95 = normalQuantile(0.975);

/** A point estimate with its interval; `value` and `interval` are null when there is no data yet. */
export interface Estimate {
  value: number | null;
  interval: [number, number] | null;
  /** The sample size behind it (decisions or sessions). */
  count: number;
}

/**
 * The Wilson score interval for a binomial proportion (Wilson 1927, "Probable inference, the law of
 * succession, and statistical inference", JASA 22; recommended over the Wald interval by Brown, Cai &
 * DasGupta 2001, "Interval Estimation for a Binomial Proportion", Stat. Sci. 16). Unlike Wald it stays
 * inside [0, 1] and is not [0, 0] at zero successes. n = 0 is "no data yet": null.
 */
export function wilson(successes: number, n: number, z = Z95): Estimate {
  if (!(n > 0)) return { value: null, interval: null, count: 0 };
  const p = Math.min(1, Math.max(0, successes / n));
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At p = 0 (p = 1) the lower (upper) bound is exactly 0 (1), but centre − half rounds to a few 1e-19 for
  // about a quarter of n (the first is n = 21): say the exact value instead of a rounding residue.
  const low = p === 0 ? 0 : Math.max(0, centre - half);
  const high = p === 1 ? 1 : Math.min(1, centre + half);
  return { value: p, interval: [low, high], count: n };
}

/**
 * The normal-approximation (CLT) interval of a mean from its sum and sum of squares: mean ± z·s/√n with the
 * sample variance s² = (Σx² − n·x̄²)/(n − 1). Null interval below two observations (no variance yet).
 * `lowerBound` clips the interval where the quantity cannot go (revenue per session is never negative when
 * purchases are; the clipped interval still covers at least as often).
 */
export function meanInterval(sum: number, sumSq: number, n: number, lowerBound = Number.NEGATIVE_INFINITY): Estimate {
  if (!(n > 0)) return { value: null, interval: null, count: 0 };
  const mean = sum / n;
  if (n < 2) return { value: mean, interval: null, count: n };
  const variance = Math.max(0, (sumSq - n * mean * mean) / (n - 1));
  const half = Z95 * Math.sqrt(variance / n);
  return { value: mean, interval: [Math.max(lowerBound, mean - half), mean + half], count: n };
}

/** The variance of an estimate's mean, as the lift needs it. */
export interface MeanAndVariance {
  mean: number;
  /** Variance of the mean (not of one observation). */
  variance: number;
}

/**
 * Relative lift candidate / incumbent − 1 with a 95 % interval from the delta method on the log of the
 * ratio (Katz et al. 1978, "Obtaining confidence intervals for the risk ratio in cohort studies",
 * Biometrics 34): Var(log(a/b)) ≈ Var(a)/a² + Var(b)/b². Exponentiating keeps the lift above −1.
 * Null when either mean is not positive (the ratio or its log is undefined).
 */
export function relativeLift(
  candidate: MeanAndVariance | undefined,
  incumbent: MeanAndVariance | undefined,
): { value: number; interval: [number, number] } | null {
  if (!candidate || !incumbent || !(candidate.mean > 0) || !(incumbent.mean > 0)) return null;
  const logRatio = Math.log(candidate.mean / incumbent.mean);
  const se = Math.sqrt(candidate.variance / candidate.mean ** 2 + incumbent.variance / incumbent.mean ** 2);
  return {
    value: Math.exp(logRatio) - 1,
    interval: [Math.exp(logRatio - Z95 * se) - 1, Math.exp(logRatio + Z95 * se) - 1],
  };
}

/** Mean and variance of a proportion (for the lift): p and p(1 − p)/n; undefined without data. */
export function proportionMoments(successes: number, n: number): MeanAndVariance | undefined {
  if (!(n > 0)) return undefined;
  const p = successes / n;
  return { mean: p, variance: (p * (1 - p)) / n };
}

/** Mean and variance of a mean from sum and sum of squares; undefined below two observations. */
export function meanMoments(sum: number, sumSq: number, n: number): MeanAndVariance | undefined {
  if (!(n > 1)) return undefined;
  const mean = sum / n;
  return { mean, variance: Math.max(0, (sumSq - n * mean * mean) / (n - 1)) / n };
}
