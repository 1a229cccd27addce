/**
 * Always-valid confidence sequences, so the guardrails can be checked every minute without inflating
 * false alarms (Johari et al. 2017, "Peeking at A/B tests"; Howard et al. 2021, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences", normal mixture boundary; Waudby-Smith et al. 2024,
 * "Time-uniform central limit theory and asymptotic confidence sequences", Thm 2.2).
 *
 * For an estimator with variance v (information 1/v) the normal-mixture martingale with mixing variance
 * tau^2 crosses 1/alpha only with probability <= alpha over all times (Ville's inequality), giving the
 * half-width  sqrt((v + v^2 / tau^2) * (2 ln(1/alpha) + ln(1 + tau^2 / v))).
 * tau is tuned so the boundary is tightest at variance v* (Howard et al. §3.5):
 * tau^2 = v* * (2 ln(1/alpha) + ln(1 + 2 ln(1/alpha))).
 * With a plug-in variance the guarantee is asymptotic (Waudby-Smith et al.), which is what we measure in
 * the false-alarm simulation.
 */
export function mixtureHalfWidth(variance: number, alpha: number, tuningVariance: number): number {
  if (!(variance > 0)) return 0;
  const l = Math.log(1 / alpha);
  const tau2 = tuningVariance * (2 * l + Math.log(1 + 2 * l));
  return Math.sqrt((variance + (variance * variance) / tau2) * (2 * l + Math.log(1 + tau2 / variance)));
}

/** A fixed-sample two-sided 95 % normal interval half-width, for display of per-arm means only. */
export function fixedHalfWidth95(variance: number): number {
  return variance > 0 ? 1.959964 * Math.sqrt(variance) : 0;
}
