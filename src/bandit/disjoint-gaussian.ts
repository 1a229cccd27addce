import { sigmoid } from "./diagonal-gaussian.js";
import type { EncodedInput } from "./encoder.js";
import { decodeF64, encodeF64 } from "./snapshot-codec.js";

/**
 * One Bayesian linear regression per arm (candidate id) with a full covariance over a small hashed space
 * (shared context + the candidate's own features): LinUCB's "disjoint" model (Li, Chu, Langford &
 * Schapire 2010) and the per-arm posterior of linear Thompson sampling (Agrawal & Goyal 2013).
 * Prior w ~ N(0, priorVariance·I). Each observation is a rank-one update by Sherman–Morrison
 * (Σ' = Σ − Σx xᵀΣ / (s + xᵀΣx)), written as the same 1-D posterior + projection as the diagonal model:
 * with u = Σx, va = xᵀu and the scalar posterior N(ma', va') of a = w·x,
 *   μ += u (ma' − ma) / va,   Σ −= u uᵀ (va − va') / va².
 * Gaussian likelihood: Kalman; logistic: 1-D Laplace at the mode (Chapelle & Li 2011). O(d²) per update,
 * no refit, and arms are independent, so a candidate's sampled score is exactly N(xᵀμ, xᵀΣx).
 * Arms are kept least-recently-used up to `maxArms` (an evicted arm restarts from the prior).
 */
interface Arm {
  mu: Float64Array;
  cov: Float64Array;
  servingMu: Float64Array | undefined;
  servingCov: Float64Array | undefined;
  dirty: boolean;
}

export interface DisjointState {
  dims: number;
  priorVariance: number;
  /** servingMu/servingCov only when the serving copy differs from the learner (`synced` and dirty). */
  arms: [string, { mu: string; cov: string; synced: boolean; servingMu?: string; servingCov?: string }][];
}

export class DisjointGaussian {
  readonly dims: number;
  readonly priorVariance: number;
  readonly maxArms: number;
  private readonly serving: boolean;
  private arms = new Map<string, Arm>();
  private readonly x: Float64Array;
  private readonly nz: Int32Array;
  private readonly u: Float64Array;
  private readonly xv: Float64Array;

  constructor(dims: number, priorVariance: number, maxArms: number, serving: boolean) {
    this.dims = dims;
    this.priorVariance = priorVariance;
    this.maxArms = maxArms;
    this.serving = serving;
    this.x = new Float64Array(dims);
    this.nz = new Int32Array(dims);
    this.u = new Float64Array(dims);
    this.xv = new Float64Array(dims);
  }

  get armCount(): number {
    return this.arms.size;
  }

  /** Dense x for candidate c into this.x; returns the number of non-zero slots listed in this.nz. */
  private load(enc: EncodedInput, c: number): number {
    const { x, nz } = this;
    let k = 0;
    for (let j = 0; j < enc.sharedLen; j++) {
      const i = enc.sharedIdx[j]!;
      if (x[i] === 0) nz[k++] = i;
      x[i] = x[i]! + enc.sharedVal[j]!;
    }
    for (let j = enc.offsets[c]!, end = enc.offsets[c + 1]!; j < end; j++) {
      const i = enc.idx[j]!;
      if (x[i] === 0) nz[k++] = i;
      x[i] = x[i]! + enc.val[j]!;
    }
    return k;
  }

  private clear(k: number): void {
    for (let j = 0; j < k; j++) this.x[this.nz[j]!] = 0;
  }

  /** Mean and variance of w_arm·x for every candidate (arms by candidate id). */
  predict(
    enc: EncodedInput,
    ids: readonly string[],
    serving: boolean,
    mean: Float64Array,
    variance: Float64Array,
  ): void {
    const { x, nz, xv, dims } = this;
    for (let c = 0; c < enc.n; c++) {
      const k = this.load(enc, c);
      for (let a = 0; a < k; a++) xv[a] = x[nz[a]!]!;
      this.clear(k);
      const arm = this.arms.get(ids[c]!);
      // Serving reads an arm created since the last sync as the prior, so pools depend on synced state only.
      const mu = serving ? arm?.servingMu : arm?.mu;
      const cov = serving ? arm?.servingCov : arm?.cov;
      let m = 0;
      let v = 0;
      if (!mu || !cov) {
        for (let a = 0; a < k; a++) v += xv[a]! * xv[a]!;
        v *= this.priorVariance;
      } else {
        // xᵀΣx over the non-zero slots only: Σ is symmetric, so the diagonal plus twice the upper part.
        for (let a = 0; a < k; a++) {
          const i = nz[a]!;
          const xi = xv[a]!;
          m += mu[i]! * xi;
          const row = i * dims;
          let s = 0.5 * cov[row + i]! * xi;
          for (let b = a + 1; b < k; b++) s += cov[row + nz[b]!]! * xv[b]!;
          v += 2 * xi * s;
        }
      }
      mean[c] = m;
      variance[c] = Math.max(v, 0);
    }
  }

  update(enc: EncodedInput, id: string, y: number, likelihood: "gaussian" | "logistic", noise: number, weight: number) {
    const arm = this.arm(id);
    const { x, nz, u, dims } = this;
    const k = this.load(enc, 0);
    const { mu, cov } = arm;
    let ma = 0;
    let va = 0;
    for (let i = 0; i < dims; i++) {
      let s = 0;
      const row = i * dims;
      for (let b = 0; b < k; b++) s += cov[row + nz[b]!]! * x[nz[b]!]!;
      u[i] = s;
    }
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      ma += mu[i]! * x[i]!;
      va += u[i]! * x[i]!;
    }
    this.clear(k);
    if (va <= 0) return;
    const [ma2, va2] = likelihood === "gaussian" ? kalman(ma, va, y, noise / weight) : laplace(ma, va, y, weight);
    const dm = (ma2 - ma) / va;
    const dv = (va - va2) / (va * va);
    for (let i = 0; i < dims; i++) {
      const ui = u[i]!;
      if (ui === 0) continue;
      mu[i] = mu[i]! + ui * dm;
      const row = i * dims;
      for (let j = 0; j < dims; j++) cov[row + j] = cov[row + j]! - ui * u[j]! * dv;
    }
    arm.dirty = true;
  }

  private arm(id: string): Arm {
    let arm = this.arms.get(id);
    if (arm) {
      this.arms.delete(id);
    } else {
      const cov = new Float64Array(this.dims * this.dims);
      for (let i = 0; i < this.dims; i++) cov[i * this.dims + i] = this.priorVariance;
      arm = { mu: new Float64Array(this.dims), cov, servingMu: undefined, servingCov: undefined, dirty: true };
      if (this.arms.size >= this.maxArms) {
        const oldest = this.arms.keys().next().value;
        if (oldest !== undefined) this.arms.delete(oldest);
      }
    }
    this.arms.set(id, arm);
    return arm;
  }

  /** Serving copies catch up with the learners of arms changed since the last sync. */
  syncServing(): void {
    if (!this.serving) return;
    for (const arm of this.arms.values()) {
      if (!arm.dirty) continue;
      // Copy into the existing serving arrays: no allocation per refresh.
      if (arm.servingMu && arm.servingCov) {
        arm.servingMu.set(arm.mu);
        arm.servingCov.set(arm.cov);
      } else {
        arm.servingMu = Float64Array.from(arm.mu);
        arm.servingCov = Float64Array.from(arm.cov);
      }
      arm.dirty = false;
    }
  }

  snapshot(): DisjointState {
    const arms: DisjointState["arms"] = [];
    for (const [id, a] of this.arms) {
      const synced = a.servingMu !== undefined && a.servingCov !== undefined;
      const differs = synced && a.dirty;
      arms.push([
        id,
        {
          mu: encodeF64(a.mu),
          cov: encodeF64(a.cov),
          synced,
          ...(differs ? { servingMu: encodeF64(a.servingMu!), servingCov: encodeF64(a.servingCov!) } : {}),
        },
      ]);
    }
    return { dims: this.dims, priorVariance: this.priorVariance, arms };
  }

  static restore(state: DisjointState, maxArms: number, serving: boolean): DisjointGaussian {
    const g = new DisjointGaussian(state.dims, state.priorVariance, maxArms, serving);
    for (const [id, a] of state.arms) {
      const mu = decodeF64(a.mu);
      const cov = decodeF64(a.cov);
      let servingMu: Float64Array | undefined;
      let servingCov: Float64Array | undefined;
      if (a.synced) {
        servingMu = a.servingMu ? decodeF64(a.servingMu) : Float64Array.from(mu);
        servingCov = a.servingCov ? decodeF64(a.servingCov) : Float64Array.from(cov);
      }
      const dirty = !a.synced || a.servingMu !== undefined;
      g.arms.set(id, { mu, cov, servingMu, servingCov, dirty });
    }
    return g;
  }
}

function kalman(ma: number, va: number, y: number, noise: number): [number, number] {
  const s = va + noise;
  return [ma + (va * (y - ma)) / s, va - (va * va) / s];
}

/** 1-D Laplace approximation of N(ma, va) × Bernoulli(σ(a))^weight at the mode (Newton). */
export function laplace(ma: number, va: number, y: number, weight: number): [number, number] {
  let a = ma;
  for (let it = 0; it < 20; it++) {
    const p = sigmoid(a);
    const step = (weight * (y - p) - (a - ma) / va) / (weight * p * (1 - p) + 1 / va);
    a += step;
    if (Math.abs(step) < 1e-10) break;
  }
  const p = sigmoid(a);
  return [a, 1 / (weight * p * (1 - p) + 1 / va)];
}
