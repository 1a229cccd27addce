import { BlockProducts } from "./block-products.js";
import { type Arm, newArm } from "./disjoint-arm.js";
import { DisjointPredictor } from "./disjoint-predict.js";
import type { EncodedInput } from "./encoder.js";
import { ItemHandles } from "./item-handles.js";
import {
  addRowTimes,
  packedOffsets,
  packedScaledIdentity,
  rankOneDowndate,
  rankOneDowndateInto,
  symmetricTimes,
} from "./packed-symmetric.js";
import { QuadraticPlan } from "./quadratic-plan.js";
import { kalman, laplace } from "./scalar-posterior.js";
import { ServingArena } from "./serving-arena.js";
import { ArmCopier, type ArmEntry, armEntry, type SlicedCopy } from "./sliced-snapshot.js";
import { decodeF64, decodePackedSymmetric } from "./snapshot-codec.js";
import { SparseScratch } from "./sparse-scratch.js";

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
export interface DisjointState {
  dims: number;
  priorVariance: number;
  /** servingMu/servingCov only when the serving copy differs from the learner (`synced` and dirty). */
  arms: [string, ArmEntry][];
}

export class DisjointGaussian {
  readonly dims: number;
  readonly priorVariance: number;
  readonly maxArms: number;
  private readonly serving: boolean;
  private readonly arms = new Map<string, Arm>();
  /** Arms whose learner moved since the last sync: a sync is O(changed arms), not O(arms). */
  private dirtyArms: Arm[] = [];
  /** The dense scratch x that predictions and updates build their inputs in (sparse-scratch.ts). */
  private readonly scratch: SparseScratch;
  private readonly u: Float64Array;
  /** The serving copies of the synced arms, for serving predictions (serving-arena.ts); none without serving. */
  private readonly arena: ServingArena | undefined;
  private readonly predictor: DisjointPredictor;
  /** Packed-triangle row offsets: Σ[i, j] (i ≤ j) is cov[off[i] + j]. */
  private readonly off: Int32Array;
  /** Between beginUpdate and finishUpdate: the arm, and its prior mean and variance of w·x (u = Σx in `u`). */
  private stepArm: Arm | undefined;
  /** A snapshot being copied in steps (snapshotInSlices): told before an arm changes. */
  private copier: ArmCopier | undefined;
  stepMean = 0;
  stepVariance = 0;

  constructor(
    dims: number,
    priorVariance: number,
    maxArms: number,
    serving: boolean,
    /** Item handles (item-handles.ts) the serving arena is read by; shared with a Thompson policy's noise bank. */
    items = new ItemHandles(),
  ) {
    this.dims = dims;
    this.priorVariance = priorVariance;
    this.maxArms = maxArms;
    this.serving = serving;
    this.u = new Float64Array(dims);
    this.off = packedOffsets(dims);
    this.scratch = new SparseScratch(dims, this.off);
    this.arena = serving ? new ServingArena(dims, this.off, items) : undefined;
    this.predictor = new DisjointPredictor({
      dims,
      priorVariance,
      off: this.off,
      arms: this.arms,
      scratch: this.scratch,
      products: new BlockProducts(dims, priorVariance, maxArms, this.off),
      plan: new QuadraticPlan(dims),
      arena: this.arena,
    });
  }

  get armCount(): number {
    return this.arms.size;
  }

  /** Layout changes of the serving arena since creation (arena-layout.ts), for the tests. */
  get arenaLayouts(): number {
    return this.arena?.layout.changes ?? 0;
  }

  /**
   * Mean and (when asked) variance of w_arm·x for every candidate (arms by candidate id): disjoint-predict.ts.
   * `handles`: the candidates' item handles from the `items` this model was built with, when the caller has them.
   */
  predict(
    enc: EncodedInput,
    ids: readonly string[],
    serving: boolean,
    mean: Float64Array,
    variance: Float64Array,
    withVariance = true,
    handles?: Int32Array,
  ): void {
    this.predictor.predict(enc, ids, serving, mean, variance, withVariance, handles);
  }

  update(enc: EncodedInput, id: string, y: number, likelihood: "gaussian" | "logistic", noise: number, weight: number) {
    this.beginUpdate(enc, id);
    this.finishUpdate(y, likelihood, noise, weight);
  }

  /**
   * First half of update(): the arm's prior moments of a = w·x for the one-candidate `enc` (`stepMean`,
   * `stepVariance`), with u = Σx kept for finishUpdate. The hybrid model reads the moments to update its shared
   * part first, so it needs no separate predict() of the arm (which cost as much again). Call finishUpdate next,
   * with no other update of this model in between.
   */
  beginUpdate(enc: EncodedInput, id: string): void {
    const arm = this.arm(id);
    const { u, dims, off, scratch } = this;
    const { x, nz } = scratch;
    const k = scratch.add(enc.sharedIdx, enc.sharedVal, 0, enc.sharedLen, 0);
    const kx = scratch.add(enc.idx, enc.val, enc.offsets[0]!, enc.offsets[1]!, k);
    const { mu, cov } = arm;
    // u = Σx. A dense x (a candidate's features fill most of a small hashed space): one pass over the packed
    // triangle. A sparse one: accumulated by rows of Σ (= columns, Σ symmetric), O(|x|·d) instead of O(d²/2).
    if (2 * kx >= dims) symmetricTimes(cov, off, dims, x, u);
    else {
      u.fill(0);
      for (let b = 0; b < kx; b++) addRowTimes(cov, off, dims, nz[b]!, x[nz[b]!]!, u);
    }
    let ma = 0;
    let va = 0;
    for (let a = 0; a < kx; a++) {
      const i = nz[a]!;
      ma += mu[i]! * x[i]!;
      va += u[i]! * x[i]!;
    }
    scratch.clear(kx);
    this.stepArm = arm;
    this.stepMean = ma;
    this.stepVariance = va;
  }

  /** Second half of update(): the observation y's Sherman–Morrison step on the arm beginUpdate() read. */
  finishUpdate(y: number, likelihood: "gaussian" | "logistic", noise: number, weight: number): void {
    const arm = this.stepArm;
    this.stepArm = undefined;
    const ma = this.stepMean;
    const va = this.stepVariance;
    if (!arm || va <= 0) return;
    const { u, dims, off } = this;
    const [ma2, va2] = likelihood === "gaussian" ? kalman(ma, va, y, noise / weight) : laplace(ma, va, y, weight);
    const dm = (ma2 - ma) / va;
    const dv = (va - va2) / (va * va);
    this.copier?.beforeChange(arm);
    const { mu, cov } = arm;
    if (arm.shared) {
      // The arrays are also the serving copy, frozen for this epoch: write the step into the spare ones.
      const nextMu = arm.spareMu ?? new Float64Array(dims);
      const nextCov = arm.spareCov ?? new Float64Array(cov.length);
      for (let i = 0; i < dims; i++) {
        const ui = u[i]!;
        nextMu[i] = ui !== 0 ? mu[i]! + ui * dm : mu[i]!;
      }
      rankOneDowndateInto(cov, nextCov, off, dims, u, dv);
      arm.mu = nextMu;
      arm.cov = nextCov;
      arm.spareMu = undefined;
      arm.spareCov = undefined;
      arm.shared = false;
    } else {
      for (let i = 0; i < dims; i++) {
        const ui = u[i]!;
        if (ui !== 0) mu[i] = mu[i]! + ui * dm;
      }
      rankOneDowndate(cov, off, dims, u, dv);
    }
    if (arm.learnBlock) arm.learnBlock.id = -1;
    this.markDirty(arm);
  }

  private markDirty(arm: Arm): void {
    if (arm.dirty) return;
    arm.dirty = true;
    if (this.serving) this.dirtyArms.push(arm);
  }

  private arm(id: string): Arm {
    let arm = this.arms.get(id);
    if (arm) {
      this.arms.delete(id);
    } else {
      const cov = packedScaledIdentity(this.dims, this.priorVariance, this.off);
      arm = newArm(id, new Float64Array(this.dims), cov, undefined, undefined);
      this.markDirty(arm);
      if (this.arms.size >= this.maxArms) {
        const oldest = this.arms.keys().next().value;
        if (oldest !== undefined) {
          this.arms.delete(oldest);
          this.arena?.remove(oldest);
        }
      }
    }
    this.arms.set(id, arm);
    return arm;
  }

  /** Serving copies catch up with the learners of arms changed since the last sync. */
  syncServing(): void {
    if (!this.serving) return;
    for (const arm of this.dirtyArms) {
      if (!arm.dirty) continue;
      this.copier?.beforeChange(arm);
      // Hand the learner's arrays to serving (see Arm.shared); the old serving arrays become the spare ones.
      if (!arm.shared) {
        arm.spareMu = arm.servingMu;
        arm.spareCov = arm.servingCov;
        arm.servingMu = arm.mu;
        arm.servingCov = arm.cov;
        arm.shared = true;
      }
      if (arm.servingBlock) arm.servingBlock.id = -1;
      arm.dirty = false;
      // An arm evicted since it changed is not served any more (and left the arena then).
      if (this.arena && this.arms.get(arm.id) === arm) this.arena.write(arm.id, arm.servingMu!, arm.servingCov!);
    }
    this.dirtyArms = [];
    // The arena holds exactly the arms with a serving copy (written at syncs and restores, dropped at evictions).
    this.arena?.updateLayout((id) => {
      const arm = this.arms.get(id)!;
      return { mu: arm.servingMu!, cov: arm.servingCov! };
    });
  }

  snapshot(): DisjointState {
    const arms: DisjointState["arms"] = [];
    for (const [id, a] of this.arms) arms.push([id, armEntry(a, this.dims)]);
    return { dims: this.dims, priorVariance: this.priorVariance, arms };
  }

  /**
   * `snapshot()` as of now, its arms copied `step(n)` at a time (sliced-snapshot.ts): an arm about to change
   * before its turn is copied first. One copy at a time: a new one completes the one in progress.
   */
  snapshotInSlices(): SlicedCopy<DisjointState> {
    this.copier?.result();
    const copier = new ArmCopier(this.arms, this.dims);
    this.copier = copier;
    const release = () => {
      if (this.copier === copier) this.copier = undefined;
    };
    const head = { dims: this.dims, priorVariance: this.priorVariance };
    return {
      step: (max) => {
        const done = copier.step(max);
        if (done) release();
        return done;
      },
      result: () => {
        const arms = copier.result();
        release();
        return { ...head, arms };
      },
    };
  }

  static restore(state: DisjointState, maxArms: number, serving: boolean, items?: ItemHandles): DisjointGaussian {
    return DisjointGaussian.restoreInSlices(state, maxArms, serving, items).result();
  }

  /**
   * `restore` with its arms rebuilt `step(n)` at a time (each arm copies ~17 KB and writes the serving arena), so
   * an API node that restores a full keeps serving between steps (app/policy-follower.ts). The same per-arm code
   * as `restore`, in the same order: the result is the same model. `state` must not change meanwhile.
   */
  static restoreInSlices(
    state: DisjointState,
    maxArms: number,
    serving: boolean,
    items?: ItemHandles,
  ): SlicedCopy<DisjointGaussian> {
    const g = new DisjointGaussian(state.dims, state.priorVariance, maxArms, serving, items);
    let next = 0;
    const step = (max: number): boolean => {
      const end = Math.min(state.arms.length, next + max);
      for (; next < end; next++) g.restoreArm(...state.arms[next]!);
      return next === state.arms.length;
    };
    return {
      step,
      result: () => {
        step(Number.POSITIVE_INFINITY);
        return g;
      },
    };
  }

  private restoreArm(id: string, a: ArmEntry): void {
    const mu = decodeF64(a.mu);
    // JSON snapshots hold the full matrix, binary ones (snapshot-binary.ts) the packed triangle memory holds.
    const cov = decodePackedSymmetric(a.cov, this.dims, this.off);
    let servingMu: Float64Array | undefined;
    let servingCov: Float64Array | undefined;
    // A synced arm whose serving copy equals its learner shares the learner's arrays (Arm.shared).
    if (a.synced) {
      servingMu = a.servingMu ? decodeF64(a.servingMu) : mu;
      servingCov = a.servingCov ? decodePackedSymmetric(a.servingCov, this.dims, this.off) : cov;
    }
    const arm = newArm(id, mu, cov, servingMu, servingCov);
    if (!a.synced || a.servingMu !== undefined) this.markDirty(arm);
    this.arms.set(id, arm);
    if (servingMu && servingCov) this.arena?.write(id, servingMu, servingCov);
  }
}
