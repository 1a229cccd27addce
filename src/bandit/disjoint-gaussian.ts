import { type BlockCache, BlockProducts, newBlockCache } from "./block-products.js";
import type { EncodedInput } from "./encoder.js";
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
  /** The candidate id it is kept under. */
  id: string;
  mu: Float64Array;
  /** Packed upper triangle (packed-symmetric.ts). */
  cov: Float64Array;
  servingMu: Float64Array | undefined;
  servingCov: Float64Array | undefined;
  /**
   * The serving copy is the learner's own arrays (synced, not updated since): a sync hands the learner's arrays
   * to serving instead of copying them, and the next update writes its result into the spare arrays (the
   * previous serving copy) instead of in place. So an epoch change costs no copy, and an update after it reads
   * the matrix once and writes it once, as an update in place does.
   */
  shared: boolean;
  spareMu: Float64Array | undefined;
  spareCov: Float64Array | undefined;
  dirty: boolean;
  /** Products with one candidate-features block, for the learner and the serving posterior (see predict). */
  learnBlock: BlockCache | undefined;
  servingBlock: BlockCache | undefined;
}

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
  private arms = new Map<string, Arm>();
  /** Arms whose learner moved since the last sync: a sync is O(changed arms), not O(arms). */
  private dirtyArms: Arm[] = [];
  /** Dense scratch x (all zero between calls), its non-zero slots `nz` and membership flags `inNz`. */
  private readonly x: Float64Array;
  private readonly nz: Int32Array;
  private readonly inNz: Uint8Array;
  /** Values of x overwritten by one candidate's entries (a stack), put back after that candidate. */
  private saved = new Float64Array(64);
  private savedAt = new Int32Array(64);
  private savedCount = 0;
  private readonly u: Float64Array;
  private readonly products: BlockProducts;
  /** The serving copies of the synced arms, for serving predictions (serving-arena.ts); none without serving. */
  private readonly arena: ServingArena | undefined;
  /** predict()'s plan of the request's shared x, for candidates that add no entries of their own to it. */
  private readonly plan: QuadraticPlan;
  /** predict()'s candidates' arms and posterior arrays (resolve()), reused across requests. */
  private readonly armRefs: (Arm | undefined)[] = [];
  private readonly armMus: (Float64Array | undefined)[] = [];
  private readonly armCovs: (Float64Array | undefined)[] = [];
  /** resolve()'s sum of the entries it touched, kept so the reads are not optimized away. */
  touched = 0;
  /** Packed-triangle row offsets: Σ[i, j] (i ≤ j) is cov[off[i] + j]. */
  private readonly off: Int32Array;
  /** Between beginUpdate and finishUpdate: the arm, and its prior mean and variance of w·x (u = Σx in `u`). */
  private stepArm: Arm | undefined;
  /** A snapshot being copied in steps (snapshotInSlices): told before an arm changes. */
  private copier: ArmCopier | undefined;
  stepMean = 0;
  stepVariance = 0;

  constructor(dims: number, priorVariance: number, maxArms: number, serving: boolean) {
    this.dims = dims;
    this.priorVariance = priorVariance;
    this.maxArms = maxArms;
    this.serving = serving;
    this.x = new Float64Array(dims);
    this.nz = new Int32Array(dims);
    this.inNz = new Uint8Array(dims);
    this.u = new Float64Array(dims);
    this.off = packedOffsets(dims);
    this.products = new BlockProducts(dims, priorVariance, maxArms, this.off);
    this.plan = new QuadraticPlan(dims);
    this.arena = serving ? new ServingArena(dims, this.off) : undefined;
  }

  get armCount(): number {
    return this.arms.size;
  }

  /** Adds entries [from, to) of (idx, val) to x, listing new slots in nz from k; returns the new k. */
  private add(idx: Int32Array, val: Float64Array, from: number, to: number, k: number): number {
    const { x, nz, inNz } = this;
    for (let j = from; j < to; j++) {
      const i = idx[j]!;
      if (inNz[i] === 0) {
        inNz[i] = 1;
        nz[k++] = i;
      }
      x[i] = x[i]! + val[j]!;
    }
    return k;
  }

  /** Zeroes x on nz[0..k) and their flags. */
  private clear(k: number): void {
    const { x, nz, inNz } = this;
    for (let j = 0; j < k; j++) {
      const i = nz[j]!;
      x[i] = 0;
      inNz[i] = 0;
    }
  }

  /**
   * Mean and (when asked) variance of w_arm·x for every candidate (arms by candidate id). x = s + a + e:
   * s the shared slots (loaded once per request), a the candidate's features block (fixed per item) and
   * e its per-request entries (score). With Σa, aᵀΣa and μᵀa cached per arm, block and posterior
   * version, xᵀΣx = s'ᵀΣs' + 2 s'ᵀ(Σa) + aᵀΣa and μᵀx = μᵀs' + μᵀa (s' = s + e; Σ symmetric): O(|s'|²)
   * per candidate instead of O(|x|²); the same numbers up to floating-point rounding.
   */
  predict(
    enc: EncodedInput,
    ids: readonly string[],
    serving: boolean,
    mean: Float64Array,
    variance: Float64Array,
    withVariance = true,
  ): void {
    const ks = this.add(enc.sharedIdx, enc.sharedVal, 0, enc.sharedLen, 0);
    const plan = this.plan;
    if (serving && this.arena !== undefined && !hasBlocks(enc)) {
      plan.build(this.x, this.nz, ks, this.arena.offsets);
      this.predictFromArena(this.arena, enc, ids, mean, variance, withVariance, ks);
      this.clear(ks);
      return;
    }
    plan.build(this.x, this.nz, ks, this.off);
    const arms = this.resolve(ids, enc.n, serving, plan);
    const { armMus, armCovs } = this;
    for (let c = 0; c < enc.n; c++) {
      const arm = arms[c];
      const mu = armMus[c];
      const cov = armCovs[c];
      const start = enc.offsets[c]!;
      const blockLen = enc.blockId[c]! >= 0 ? enc.blockLen[c]! : 0;
      // x = s' is the shared part alone when the candidate adds no per-request entries: the plan's gather then.
      const own = start + blockLen < enc.offsets[c + 1]!;
      const k = own ? this.overlay(enc.idx, enc.val, start + blockLen, enc.offsets[c + 1]!, ks) : ks;
      let m = 0;
      let v = 0;
      if (!arm || !mu || !cov) {
        // At the prior Σ = p·I, μ = 0: only the variance, p·|x|² = p·|s'|² + 2 s'ᵀ(p·a) + p·|a|².
        if (withVariance) {
          v = this.priorVariance * (own ? this.dot(this.x, k) : plan.norm2);
          if (blockLen > 0) {
            const block = this.products.prior(enc, c);
            v += 2 * this.dot(block.sa, k) + block.asa;
          }
        }
      } else {
        m = own ? this.dot(mu, k) : plan.mean(mu);
        if (withVariance) v = own ? this.quadratic(cov, k) : plan.variance(cov);
        if (blockLen > 0) {
          const block = this.block(arm, serving, mu, cov, enc, c);
          m += block.mua;
          if (withVariance) v += 2 * this.dot(block.sa, k) + block.asa;
        }
      }
      if (own) this.restore(ks, k);
      mean[c] = m;
      variance[c] = Math.max(v, 0);
    }
    this.clear(ks);
  }

  /**
   * predict() of the serving posterior for candidates without a features block (x = the shared part s, plus the
   * candidate's per-request entries when it has any), reading the arms' serving copies from the arena: the same
   * operations in the same order on the same numbers as the path through the arms, so the same bits.
   */
  private predictFromArena(
    arena: ServingArena,
    enc: EncodedInput,
    ids: readonly string[],
    mean: Float64Array,
    variance: Float64Array,
    withVariance: boolean,
    ks: number,
  ): void {
    const plan = this.plan;
    const slots = arena.resolve(ids, enc.n, plan.firstPosition);
    const prior = this.priorVariance;
    for (let c = 0; c < enc.n; c++) {
      const slot = slots[c]!;
      const start = enc.offsets[c]!;
      const end = enc.offsets[c + 1]!;
      const own = start < end;
      const k = own ? this.overlay(enc.idx, enc.val, start, end, ks) : ks;
      let m = 0;
      let v = 0;
      if (slot < 0) {
        // At the prior Σ = p·I, μ = 0 (an arm not synced yet, or none): only the variance, p·|x|².
        if (withVariance) v = prior * (own ? this.dot(this.x, k) : plan.norm2);
      } else {
        const data = arena.dataOf(slot);
        const base = arena.baseOf(slot);
        m = own ? this.dotAt(data, k, base, arena.muAt) : plan.meanBeforeDiagonal(data, base);
        if (withVariance) v = own ? this.quadratic(data, k, base, arena.offsets) : plan.variance(data, base);
      }
      if (own) this.restore(ks, k);
      mean[c] = m;
      variance[c] = Math.max(v, 0);
    }
  }

  /**
   * Every candidate's arm and the posterior arrays predict() reads (into armRefs/armMus/armCovs), before any
   * arithmetic. An arm's numbers sit behind a chain of dependent reads (Map entry, arm, array, its data) that
   * mostly miss the cache; resolved in a loop of their own, the chains of successive candidates overlap instead
   * of waiting one by one between two candidates' sums. Touching the first planned entry of each covariance
   * brings its array's header and data pointer in the same way.
   */
  private resolve(ids: readonly string[], n: number, serving: boolean, plan: QuadraticPlan): (Arm | undefined)[] {
    const { armRefs, armMus, armCovs } = this;
    armRefs.length = n;
    armMus.length = n;
    armCovs.length = n;
    const first = plan.firstPosition;
    let touched = 0;
    for (let c = 0; c < n; c++) {
      const arm = this.arms.get(ids[c]!);
      armRefs[c] = arm;
      // Serving reads an arm created since the last sync as the prior, so pools depend on synced state only.
      const mu = serving ? arm?.servingMu : arm?.mu;
      const cov = serving ? arm?.servingCov : arm?.cov;
      armMus[c] = mu;
      armCovs[c] = cov;
      if (cov !== undefined && first >= 0) touched += cov[first]!;
    }
    this.touched = touched;
    return armRefs;
  }

  /** Adds entries [from, to) on top of the shared x (nz[0..ks)), saving what they overwrite; returns k. */
  private overlay(idx: Int32Array, val: Float64Array, from: number, to: number, ks: number): number {
    if (this.saved.length < to - from) {
      this.saved = new Float64Array(2 * (to - from));
      this.savedAt = new Int32Array(2 * (to - from));
    }
    const { x, nz, inNz, saved, savedAt } = this;
    let k = ks;
    let q = 0;
    for (let j = from; j < to; j++) {
      const i = idx[j]!;
      if (inNz[i] === 0) {
        inNz[i] = 1;
        nz[k++] = i;
      }
      savedAt[q] = i;
      saved[q++] = x[i]!;
      x[i] = x[i]! + val[j]!;
    }
    this.savedCount = q;
    return k;
  }

  /** Undoes overlay(): x back to the shared part, slots nz[ks..k) unlisted. */
  private restore(ks: number, k: number): void {
    const { x, saved, savedAt } = this;
    for (let q = this.savedCount - 1; q >= 0; q--) x[savedAt[q]!] = saved[q]!;
    for (let j = ks; j < k; j++) this.inNz[this.nz[j]!] = 0;
  }

  /** Σ over the listed slots of w[base + i]·x[i] (w = x gives |x|²). */
  private dot(w: Float64Array, k: number, base = 0): number {
    const { x, nz } = this;
    let s = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      s += w[base + i]! * x[i]!;
    }
    return s;
  }

  /** Σ over the listed slots of w[base + at[i]]·x[i]: dot() for a w laid out by `at`. */
  private dotAt(w: Float64Array, k: number, base: number, at: Int32Array): number {
    const { x, nz } = this;
    let s = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      s += w[base + at[i]!]! * x[i]!;
    }
    return s;
  }

  /**
   * xᵀΣx over the listed slots, Σ[i, j] (i ≤ j) at base + off[i] + j of `cov` (packed: this.off): symmetric, so the
   * diagonal plus twice the upper part.
   */
  private quadratic(cov: Float64Array, k: number, base = 0, off = this.off): number {
    const { x, nz } = this;
    let v = 0;
    for (let a = 0; a < k; a++) {
      const i = nz[a]!;
      const xi = x[i]!;
      const oi = base + off[i]!;
      let s = 0.5 * cov[oi + i]! * xi;
      for (let b = a + 1; b < k; b++) {
        const j = nz[b]!;
        s += cov[i <= j ? oi + j : base + off[j]! + i]! * x[j]!;
      }
      v += 2 * xi * s;
    }
    return v;
  }

  /** The cached products of candidate c's features block with this arm's posterior, (re)computed on a miss. */
  private block(arm: Arm, serving: boolean, mu: Float64Array, cov: Float64Array, enc: EncodedInput, c: number) {
    const id = enc.blockId[c]!;
    let cache = serving ? arm.servingBlock : arm.learnBlock;
    if (cache && cache.id === id) return cache;
    if (!cache) {
      cache = newBlockCache(this.dims);
      if (serving) arm.servingBlock = cache;
      else arm.learnBlock = cache;
    }
    return this.products.fill(cache, mu, cov, enc, c);
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
    const { x, nz, u, dims, off } = this;
    const k = this.add(enc.sharedIdx, enc.sharedVal, 0, enc.sharedLen, 0);
    const kx = this.add(enc.idx, enc.val, enc.offsets[0]!, enc.offsets[1]!, k);
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
    this.clear(kx);
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

  static restore(state: DisjointState, maxArms: number, serving: boolean): DisjointGaussian {
    const g = new DisjointGaussian(state.dims, state.priorVariance, maxArms, serving);
    for (const [id, a] of state.arms) {
      const mu = decodeF64(a.mu);
      // JSON snapshots hold the full matrix, binary ones (snapshot-binary.ts) the packed triangle memory holds.
      const cov = decodePackedSymmetric(a.cov, g.dims, g.off);
      let servingMu: Float64Array | undefined;
      let servingCov: Float64Array | undefined;
      // A synced arm whose serving copy equals its learner shares the learner's arrays (Arm.shared).
      if (a.synced) {
        servingMu = a.servingMu ? decodeF64(a.servingMu) : mu;
        servingCov = a.servingCov ? decodePackedSymmetric(a.servingCov, g.dims, g.off) : cov;
      }
      const arm = newArm(id, mu, cov, servingMu, servingCov);
      if (!a.synced || a.servingMu !== undefined) g.markDirty(arm);
      g.arms.set(id, arm);
      if (servingMu && servingCov) g.arena?.write(id, servingMu, servingCov);
    }
    return g;
  }
}

function newArm(
  id: string,
  mu: Float64Array,
  cov: Float64Array,
  servingMu: Float64Array | undefined,
  servingCov: Float64Array | undefined,
): Arm {
  return {
    id,
    mu,
    cov,
    servingMu,
    servingCov,
    shared: servingMu === mu,
    spareMu: undefined,
    spareCov: undefined,
    dirty: false,
    learnBlock: undefined,
    servingBlock: undefined,
  };
}

/** Whether a candidate of `enc` has a features block (its products are cached per arm: the path through the arms). */
function hasBlocks(enc: EncodedInput): boolean {
  for (let c = 0; c < enc.n; c++) if (enc.blockId[c]! >= 0 && enc.blockLen[c]! > 0) return true;
  return false;
}
