import type { EncodedInput } from "./encoder.js";
import { decodeF64, decodeI32, encodeF64, encodeI32 } from "./snapshot-codec.js";

/**
 * A Gaussian posterior over hashed weights with a diagonal covariance: w_i ~ N(mu_i, vr_i), independent.
 * One observation constrains only the scalar a = w·x (x = shared slots + one candidate's slots). We
 * compute a's prior N(ma, va), its exact 1-D posterior N(ma', va') under the observation, and project
 * back onto the weights with the Kalman gain k_i = vr_i x_i / va:
 *   mu_i += k_i (ma' − ma),   vr_i −= vr_i² x_i² (va − va') / va².
 * For a Gaussian likelihood this is the diagonal of the Sherman–Morrison rank-one update of the full
 * posterior (Bishop 2006, §3.3; Agrawal & Goyal 2013 for its use in Thompson sampling); for a
 * Bernoulli/logistic likelihood the 1-D posterior is the Laplace approximation at the mode, which with
 * the diagonal projection is the online diagonal Laplace of Chapelle & Li (2011), "An Empirical
 * Evaluation of Thompson Sampling", Algorithm 3. O(nnz) per update, no refit.
 *
 * An optional frozen "serving" copy lets Thompson sampling draw its sample pools from the posterior as
 * of the last refresh, so the served distribution is a deterministic function of a snapshot.
 */
export class DiagonalGaussian {
  readonly dims: number;
  readonly priorVariance: number;
  mu: Float64Array;
  vr: Float64Array;
  private servingMu: Float64Array | undefined;
  private servingVr: Float64Array | undefined;
  /** The serving copy again, interleaved (mu, vr) per slot: what serving predictions read (servingPairs()). */
  private pairs: Float64Array | undefined;
  private dirty: Uint8Array | undefined;
  private dirtyList: number[] = [];

  constructor(dims: number, priorVariance: number, serving = false) {
    this.dims = dims;
    this.priorVariance = priorVariance;
    this.mu = new Float64Array(dims);
    this.vr = new Float64Array(dims).fill(priorVariance);
    if (serving) {
      this.servingMu = new Float64Array(dims);
      this.servingVr = new Float64Array(dims).fill(priorVariance);
      this.pairs = new Float64Array(2 * dims);
      for (let i = 0; i < dims; i++) this.pairs[2 * i + 1] = priorVariance;
      this.dirty = new Uint8Array(dims);
    }
  }

  /** The means and variances predictions read: the serving copy's when asked for and kept, else the learner's. */
  weights(serving: boolean): [Float64Array, Float64Array] {
    if (serving && this.servingMu && this.servingVr) return [this.servingMu, this.servingVr];
    return [this.mu, this.vr];
  }

  /**
   * The serving copy interleaved, [mu_0, vr_0, mu_1, vr_1, ...] (undefined without a serving copy): a hashed
   * slot's mean and variance in one cache line, for predictions that read slots at random over a large table
   * (encoder.dotsServing). It costs 16 B a slot more memory; the numbers are those of weights(true).
   */
  servingPairs(): Float64Array | undefined {
    return this.pairs;
  }

  /** Mean of candidate c's own slots (the shared part is common to all candidates and omitted). */
  candidateMeans(enc: EncodedInput, serving: boolean, out: Float64Array): Float64Array {
    const mu = serving && this.servingMu ? this.servingMu : this.mu;
    const { idx, val, offsets } = enc;
    for (let c = 0; c < enc.n; c++) {
      let s = 0;
      for (let j = offsets[c]!, end = offsets[c + 1]!; j < end; j++) s += mu[idx[j]!]! * val[j]!;
      out[c] = s;
    }
    return out;
  }

  /** Variance of candidate c's own part of w·x, Σ vr_i x_i² (the diagonal x'Σx). */
  candidateVariances(enc: EncodedInput, serving: boolean, out: Float64Array): Float64Array {
    const vr = serving && this.servingVr ? this.servingVr : this.vr;
    const { idx, val, offsets } = enc;
    for (let c = 0; c < enc.n; c++) {
      let s = 0;
      for (let j = offsets[c]!, end = offsets[c + 1]!; j < end; j++) {
        const x = val[j]!;
        s += vr[idx[j]!]! * x * x;
      }
      out[c] = s;
    }
    return out;
  }

  /** Prior moments (mean, variance) of a = w·x for shared slots + candidate c. */
  moments(enc: EncodedInput, c: number): [number, number] {
    const { mu, vr } = this;
    let m = 0;
    let v = 0;
    for (let j = 0; j < enc.sharedLen; j++) {
      const i = enc.sharedIdx[j]!;
      const x = enc.sharedVal[j]!;
      m += mu[i]! * x;
      v += vr[i]! * x * x;
    }
    for (let j = enc.offsets[c]!, end = enc.offsets[c + 1]!; j < end; j++) {
      const i = enc.idx[j]!;
      const x = enc.val[j]!;
      m += mu[i]! * x;
      v += vr[i]! * x * x;
    }
    return [m, v];
  }

  /** Gaussian likelihood y ~ N(a, noise/weight): Kalman update. `prior`: moments(enc, c) when the caller has them. */
  updateLinear(
    enc: EncodedInput,
    c: number,
    y: number,
    noise: number,
    weight: number,
    prior: readonly [number, number] = this.moments(enc, c),
  ): void {
    const [ma, va] = prior;
    if (va <= 0) return;
    const s = va + noise / weight;
    this.project(enc, c, ma, va, ma + (va * (y - ma)) / s, va - (va * va) / s);
  }

  /** Bernoulli likelihood with P(y=1) = σ(a), y in [0,1]: 1-D Laplace at the mode (Newton), then project. */
  updateLogistic(enc: EncodedInput, c: number, y: number, weight: number): void {
    const [ma, va] = this.moments(enc, c);
    if (va <= 0) return;
    let a = ma;
    for (let it = 0; it < 20; it++) {
      const p = sigmoid(a);
      const g = weight * (y - p) - (a - ma) / va;
      const h = weight * p * (1 - p) + 1 / va;
      const step = g / h;
      a += step;
      if (Math.abs(step) < 1e-10) break;
    }
    const p = sigmoid(a);
    this.project(enc, c, ma, va, a, 1 / (weight * p * (1 - p) + 1 / va));
  }

  private project(enc: EncodedInput, c: number, ma: number, va: number, ma2: number, va2: number): void {
    const dm = (ma2 - ma) / va;
    const dv = (va - va2) / (va * va);
    for (let j = 0; j < enc.sharedLen; j++) this.apply(enc.sharedIdx[j]!, enc.sharedVal[j]!, dm, dv);
    for (let j = enc.offsets[c]!, end = enc.offsets[c + 1]!; j < end; j++) this.apply(enc.idx[j]!, enc.val[j]!, dm, dv);
  }

  private apply(i: number, x: number, dm: number, dv: number): void {
    const v = this.vr[i]!;
    this.mu[i] = this.mu[i]! + v * x * dm;
    // Floor keeps a colliding (hashed twice) slot from reaching 0 or below through repeated shrinkage.
    this.vr[i] = Math.max(v - v * v * x * x * dv, v * 1e-6);
    if (this.dirty && this.dirty[i] === 0) {
      this.dirty[i] = 1;
      this.dirtyList.push(i);
    }
  }

  /** Copy the slots changed since the last sync into the serving copy (O(changed), not O(dims)). */
  /**
   * The slots the next syncServing() copies (every slot updated since the last one; the array is not changed
   * afterwards), or undefined without a serving copy.
   */
  servingChanges(): readonly number[] | undefined {
    return this.dirty ? this.dirtyList : undefined;
  }

  syncServing(): void {
    if (!this.servingMu || !this.servingVr || !this.dirty) return;
    const pairs = this.pairs!;
    for (const i of this.dirtyList) {
      this.servingMu[i] = this.mu[i]!;
      this.servingVr[i] = this.vr[i]!;
      pairs[2 * i] = this.mu[i]!;
      pairs[2 * i + 1] = this.vr[i]!;
      this.dirty[i] = 0;
    }
    this.dirtyList = [];
  }

  /** Sparse snapshot: only slots that moved from the prior. */
  snapshot(): DiagonalGaussianState {
    const learn = sparse(this.mu, this.vr, this.priorVariance);
    const serving =
      this.servingMu && this.servingVr ? sparse(this.servingMu, this.servingVr, this.priorVariance) : undefined;
    return { dims: this.dims, priorVariance: this.priorVariance, learn, serving };
  }

  static restore(state: DiagonalGaussianState): DiagonalGaussian {
    const g = new DiagonalGaussian(state.dims, state.priorVariance, state.serving !== undefined);
    fill(g.mu, g.vr, state.learn);
    if (state.serving && g.servingMu && g.servingVr && g.pairs) {
      fill(g.servingMu, g.servingVr, state.serving);
      const pairs = g.pairs;
      for (let i = 0; i < g.dims; i++) {
        pairs[2 * i] = g.servingMu[i]!;
        pairs[2 * i + 1] = g.servingVr[i]!;
      }
    }
    // Slots where learner and serving differ must be copied at the next sync.
    if (g.servingMu && g.servingVr && g.dirty) {
      for (const i of decodeI32(state.learn.idx)) {
        if (g.mu[i] !== g.servingMu[i] || g.vr[i] !== g.servingVr[i]) {
          g.dirty[i] = 1;
          g.dirtyList.push(i);
        }
      }
    }
    return g;
  }
}

export interface SparseSlots {
  idx: string;
  mu: string;
  vr: string;
}

export interface DiagonalGaussianState {
  dims: number;
  priorVariance: number;
  learn: SparseSlots;
  serving: SparseSlots | undefined;
}

export function sigmoid(a: number): number {
  return a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
}

function sparse(mu: Float64Array, vr: Float64Array, prior: number): SparseSlots {
  const idx: number[] = [];
  for (let i = 0; i < mu.length; i++) if (mu[i] !== 0 || vr[i] !== prior) idx.push(i);
  const m = new Float64Array(idx.length);
  const v = new Float64Array(idx.length);
  idx.forEach((i, k) => {
    m[k] = mu[i]!;
    v[k] = vr[i]!;
  });
  return { idx: encodeI32(Int32Array.from(idx)), mu: encodeF64(m), vr: encodeF64(v) };
}

function fill(mu: Float64Array, vr: Float64Array, s: SparseSlots): void {
  const idx = decodeI32(s.idx);
  const m = decodeF64(s.mu);
  const v = decodeF64(s.vr);
  for (let k = 0; k < idx.length; k++) {
    mu[idx[k]!] = m[k]!;
    vr[idx[k]!] = v[k]!;
  }
}
