import type { BlockProducts } from "./block-products.js";
import { newBlockCache } from "./block-products.js";
import type { Arm } from "./disjoint-arm.js";
import type { EncodedInput } from "./encoder.js";
import type { QuadraticPlan } from "./quadratic-plan.js";
import type { ServingArena } from "./serving-arena.js";
import type { SparseScratch } from "./sparse-scratch.js";

/** What the disjoint model (disjoint-gaussian.ts) shares with its predictions: its arms and caches, by reference. */
export interface DisjointParts {
  dims: number;
  priorVariance: number;
  /** Packed-triangle row offsets of the arms' covariances. */
  off: Int32Array;
  arms: ReadonlyMap<string, Arm>;
  scratch: SparseScratch;
  products: BlockProducts;
  /** predict()'s plan of the request's shared x, for candidates that add no entries of their own to it. */
  plan: QuadraticPlan;
  /** The serving copies of the synced arms (serving-arena.ts); none without serving. */
  arena: ServingArena | undefined;
}

/**
 * The disjoint model's predictions (its hot path when serving), apart from its updates and snapshots: reads the
 * model's arms, never changes their posteriors (only the per-arm caches of block products).
 */
export class DisjointPredictor {
  private readonly dims: number;
  private readonly priorVariance: number;
  private readonly arms: ReadonlyMap<string, Arm>;
  private readonly scratch: SparseScratch;
  private readonly products: BlockProducts;
  private readonly plan: QuadraticPlan;
  private readonly arena: ServingArena | undefined;
  /** predict()'s candidates' arms and posterior arrays (resolve()), reused across requests. */
  private readonly armRefs: (Arm | undefined)[] = [];
  private readonly armMus: (Float64Array | undefined)[] = [];
  private readonly armCovs: (Float64Array | undefined)[] = [];
  private readonly off: Int32Array;
  /** resolve()'s sum of the entries it touched, kept so the reads are not optimized away. */
  touched = 0;

  constructor(parts: DisjointParts) {
    this.dims = parts.dims;
    this.priorVariance = parts.priorVariance;
    this.off = parts.off;
    this.arms = parts.arms;
    this.scratch = parts.scratch;
    this.products = parts.products;
    this.plan = parts.plan;
    this.arena = parts.arena;
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
    handles?: Int32Array,
  ): void {
    const ks = this.scratch.add(enc.sharedIdx, enc.sharedVal, 0, enc.sharedLen, 0);
    const plan = this.plan;
    if (serving && this.arena !== undefined && !hasBlocks(enc)) {
      const layout = this.arena.layout;
      layout.noteListed(this.scratch.nz, ks);
      plan.build(this.scratch.x, this.scratch.nz, ks, layout.rowAt, layout.order);
      this.predictFromArena(this.arena, enc, ids, handles, mean, variance, withVariance, ks);
      this.scratch.clear(ks);
      return;
    }
    plan.build(this.scratch.x, this.scratch.nz, ks, this.off);
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
      const k = own ? this.scratch.overlay(enc.idx, enc.val, start + blockLen, enc.offsets[c + 1]!, ks) : ks;
      let m = 0;
      let v = 0;
      if (!arm || !mu || !cov) {
        // At the prior Σ = p·I, μ = 0: only the variance, p·|x|² = p·|s'|² + 2 s'ᵀ(p·a) + p·|a|².
        if (withVariance) {
          v = this.priorVariance * (own ? this.scratch.dot(this.scratch.x, k) : plan.norm2);
          if (blockLen > 0) {
            const block = this.products.prior(enc, c);
            v += 2 * this.scratch.dot(block.sa, k) + block.asa;
          }
        }
      } else {
        m = own ? this.scratch.dot(mu, k) : plan.mean(mu);
        if (withVariance) v = own ? this.scratch.quadratic(cov, k) : plan.variance(cov);
        if (blockLen > 0) {
          const block = this.block(arm, serving, mu, cov, enc, c);
          m += block.mua;
          if (withVariance) v += 2 * this.scratch.dot(block.sa, k) + block.asa;
        }
      }
      if (own) this.scratch.restore(ks, k);
      mean[c] = m;
      variance[c] = Math.max(v, 0);
    }
    this.scratch.clear(ks);
  }

  /**
   * predict() of the serving posterior for candidates without a features block (x = the shared part s, plus the
   * candidate's per-request entries when it has any), reading the arms' serving copies from the arena: the same
   * operations in the same order as the path through the arms, on those numbers rounded to float32 (serving-arena.ts).
   */
  private predictFromArena(
    arena: ServingArena,
    enc: EncodedInput,
    ids: readonly string[],
    handles: Int32Array | undefined,
    mean: Float64Array,
    variance: Float64Array,
    withVariance: boolean,
    ks: number,
  ): void {
    const plan = this.plan;
    const layout = arena.layout;
    plan.lines();
    const slots = handles
      ? arena.resolve(handles, enc.n, plan.probes, plan.probeCount)
      : arena.resolveIds(ids, enc.n, plan.probes, plan.probeCount);
    const prior = this.priorVariance;
    for (let c = 0; c < enc.n; c++) {
      const slot = slots[c]!;
      const start = enc.offsets[c]!;
      const end = enc.offsets[c + 1]!;
      const own = start < end;
      const k = own ? this.scratch.overlay(enc.idx, enc.val, start, end, ks) : ks;
      let m = 0;
      let v = 0;
      if (slot < 0) {
        // At the prior Σ = p·I, μ = 0 (an arm not synced yet, or none): only the variance, p·|x|².
        if (withVariance) v = prior * (own ? this.scratch.dot(this.scratch.x, k) : plan.norm2);
      } else {
        const data = arena.dataOf(slot);
        const base = arena.baseOf(slot);
        m = own ? this.scratch.dotAt(data, k, base, layout.muAt) : plan.meanBeforeDiagonal(data, base);
        if (withVariance)
          v = own
            ? this.scratch.quadraticInArena(data, k, base, layout.rowAt, layout.order)
            : plan.varianceInArena(data, base);
      }
      if (own) this.scratch.restore(ks, k);
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
}

/** Whether a candidate of `enc` has a features block (its products are cached per arm: the path through the arms). */
function hasBlocks(enc: EncodedInput): boolean {
  for (let c = 0; c < enc.n; c++) if (enc.blockId[c]! >= 0 && enc.blockLen[c]! > 0) return true;
  return false;
}
