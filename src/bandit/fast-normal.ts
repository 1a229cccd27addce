import { type Rng, Xoshiro128 } from "../core/rng.js";

/**
 * Standard normal draws by inverting the CDF through a 4096-entry quantile table with linear
 * interpolation: one uniform per draw, no log/trig, ~6x cheaper than Box–Muller here. The quantile
 * function is Acklam's rational approximation (relative error < 1.15e-9). Tails beyond the outermost
 * table point (|z| > 3.66, probability ~2.5e-4) are clipped to it, which is harmless for Thompson
 * sampling: pool draws only rank candidates, and the propensity is the exact share of the pool whatever
 * the draws' law.
 */
const SIZE = 4096;
const TABLE = new Float64Array(SIZE + 1);
for (let i = 0; i <= SIZE; i++) TABLE[i] = inverseNormalCdf((i + 0.5) / (SIZE + 1));

export function fastNormal(rng: Rng): number {
  const u = rng.next() * SIZE;
  const i = u | 0;
  const lo = TABLE[i]!;
  return lo + (u - i) * (TABLE[i + 1]! - lo);
}

/**
 * out[0..count) = count draws of fastNormal(rng), consuming the same uniforms in the same order (so the
 * same values), with the uniforms drawn in bulk (Xoshiro128.fill) and the table lookups in one loop.
 */
export function fastNormals(rng: Rng, out: Float64Array, count: number): void {
  if (rng instanceof Xoshiro128) rng.fill(out, count);
  else for (let i = 0; i < count; i++) out[i] = rng.next();
  for (let k = 0; k < count; k++) {
    const u = out[k]! * SIZE;
    const i = u | 0;
    const lo = TABLE[i]!;
    out[k] = lo + (u - i) * (TABLE[i + 1]! - lo);
  }
}

/** Acklam's algorithm for Φ⁻¹(p), p in (0, 1). */
export function inverseNormalCdf(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -inverseNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
