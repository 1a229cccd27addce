import { normalQuantile } from "../core/normal-quantile.js";
import { Xoshiro128 } from "../core/rng.js";

/**
 * One summary for every estimator's per-round terms (DESIGN.md: estimators as per-round terms).
 * - value: mean of the terms.
 * - stderr: sample standard deviation (n − 1) / √n, the plug-in standard error of a mean.
 * - normal CI: value ± z_{1−α/2} · stderr.
 * - bootstrap CI: percentiles α/2 and 1 − α/2 of the means of `bootstrap` resamples of the terms drawn
 *   with replacement (OBP `estimate_confidence_interval_by_bootstrap`; numpy's linear percentile), seeded.
 */
export interface SummarizeOptions {
  /** 1 − confidence level. Default 0.05 (95%). */
  alpha?: number;
  /** Number of bootstrap resamples; 0 or undefined skips the bootstrap CI. */
  bootstrap?: number;
  /** Seed for the bootstrap resampling. Default 0. */
  seed?: number;
}

export interface Summary {
  value: number;
  stderr: number;
  n: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  ci: [number, number];
  bootstrapCi?: [number, number];
}

export function summarize(terms: Float64Array, options: SummarizeOptions = {}): Summary {
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be in (0, 1), got ${alpha}`);
  const n = terms.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += terms[i] as number;
  const value = n === 0 ? Number.NaN : sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (terms[i] as number) - value;
    ss += d * d;
  }
  const stderr = n > 1 ? Math.sqrt(ss / (n - 1) / n) : Number.NaN;
  const z = normalQuantile(1 - alpha / 2);
  const summary: Summary = { value, stderr, n, level: 1 - alpha, ci: [value - z * stderr, value + z * stderr] };
  const b = options.bootstrap ?? 0;
  if (b > 0 && n > 0) summary.bootstrapCi = bootstrapCi(terms, alpha, b, options.seed ?? 0);
  return summary;
}

function bootstrapCi(terms: Float64Array, alpha: number, resamples: number, seed: number): [number, number] {
  const rng = new Xoshiro128(seed);
  const n = terms.length;
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += terms[Math.floor(rng.next() * n)] as number;
    means[b] = s / n;
  }
  means.sort();
  return [percentile(means, alpha / 2), percentile(means, 1 - alpha / 2)];
}

/** numpy's default ("linear") percentile of sorted values, q in [0, 1]. */
export function percentile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (pos - lo);
}

export { normalQuantile };
