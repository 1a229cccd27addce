import { normalQuantile } from "../core/normal-quantile.js";
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
for (let i = 0; i <= SIZE; i++) TABLE[i] = normalQuantile((i + 0.5) / (SIZE + 1));

export function fastNormal(rng: Rng): number {
  return normalOfUniform(rng.next());
}

/** The table's quantile of a uniform u in [0, 1): what fastNormal() returns for next() = u; non-decreasing in u. */
export function normalOfUniform(uniform: number): number {
  const u = uniform * SIZE;
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

/** Φ⁻¹(p) for p in (0, 1) (Acklam's approximation, shared with the OPE intervals). */
export const inverseNormalCdf = normalQuantile;
