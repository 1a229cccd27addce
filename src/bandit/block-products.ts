import type { EncodedInput } from "./encoder.js";
import { addRowTimes } from "./packed-symmetric.js";

/**
 * For a fixed features block a (an item's encoded features, identified by the encoder's block id) and one
 * posterior N(μ, Σ): Σa, aᵀΣa and μᵀa. disjoint-gaussian.ts splits a candidate's x into s' + a (shared
 * slots and per-request entries, plus the block) so that xᵀΣx = s'ᵀΣs' + 2 s'ᵀ(Σa) + aᵀΣa and
 * μᵀx = μᵀs' + μᵀa cost O(|s'|²) per candidate once these are cached. Valid while `id` is the block's
 * id and the posterior is unchanged (the owner sets `id` to -1 when it moves).
 */
export interface BlockCache {
  id: number;
  sa: Float64Array;
  asa: number;
  mua: number;
}

export function newBlockCache(dims: number): BlockCache {
  return { id: -1, sa: new Float64Array(dims), asa: 0, mua: 0 };
}

/** Computes block products (scratch buffers reused) and keeps those at the prior, shared by all new arms. */
export class BlockProducts {
  private readonly dims: number;
  private readonly priorVariance: number;
  private readonly limit: number;
  /** Dense scratch for a block (all zero between calls), its non-zero slots and their flags. */
  private readonly bx: Float64Array;
  private readonly bnz: Int32Array;
  private readonly inNz: Uint8Array;
  private readonly priorBlocks = new Map<number, BlockCache>();
  private readonly off: Int32Array;

  /** `off`: the packed-triangle offsets of the covariances passed to fill() (packed-symmetric.ts). */
  constructor(dims: number, priorVariance: number, limit: number, off: Int32Array) {
    this.off = off;
    this.dims = dims;
    this.priorVariance = priorVariance;
    this.limit = limit;
    this.bx = new Float64Array(dims);
    this.bnz = new Int32Array(dims);
    this.inNz = new Uint8Array(dims);
  }

  /** Candidate c's block products with N(mu, cov) (cov packed), written into `cache`. */
  fill(cache: BlockCache, mu: Float64Array, cov: Float64Array, enc: EncodedInput, c: number): BlockCache {
    const { bx, bnz, dims } = this;
    const k = this.load(enc, c);
    // Σa by rows of Σ (= columns, Σ symmetric).
    const sa = cache.sa;
    sa.fill(0);
    let mua = 0;
    for (let b = 0; b < k; b++) {
      const j = bnz[b]!;
      const aj = bx[j]!;
      mua += mu[j]! * aj;
      if (aj !== 0) addRowTimes(cov, this.off, dims, j, aj, sa);
    }
    cache.asa = this.unload(k, sa);
    cache.mua = mua;
    cache.id = enc.blockId[c]!;
    return cache;
  }

  /** Block products at the prior N(0, p·I): Σa = p·a, aᵀΣa = p·|a|², μᵀa = 0. Kept per block id, bounded. */
  prior(enc: EncodedInput, c: number): BlockCache {
    const id = enc.blockId[c]!;
    let cache = this.priorBlocks.get(id);
    if (cache) return cache;
    if (this.priorBlocks.size >= this.limit) this.priorBlocks.clear();
    cache = newBlockCache(this.dims);
    const k = this.load(enc, c);
    for (let b = 0; b < k; b++) {
      const j = this.bnz[b]!;
      cache.sa[j] = this.priorVariance * this.bx[j]!;
    }
    cache.asa = this.unload(k, cache.sa);
    cache.id = id;
    this.priorBlocks.set(id, cache);
    return cache;
  }

  /** Dense block of candidate c into bx; returns the number of slots listed in bnz. */
  private load(enc: EncodedInput, c: number): number {
    const { bx, bnz, inNz } = this;
    const start = enc.offsets[c]!;
    let k = 0;
    for (let j = start, end = start + enc.blockLen[c]!; j < end; j++) {
      const i = enc.idx[j]!;
      if (inNz[i] === 0) {
        inNz[i] = 1;
        bnz[k++] = i;
      }
      bx[i] = bx[i]! + enc.val[j]!;
    }
    return k;
  }

  /** aᵀ(sa) over the listed slots, clearing the scratch. */
  private unload(k: number, sa: Float64Array): number {
    const { bx, bnz, inNz } = this;
    let asa = 0;
    for (let b = 0; b < k; b++) {
      const j = bnz[b]!;
      asa += bx[j]! * sa[j]!;
      bx[j] = 0;
      inNz[j] = 0;
    }
    return asa;
  }
}
