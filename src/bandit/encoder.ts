import type { FeatureMap, FeatureValue } from "../core/types.js";
import { type ActionBlock, ActionBlocks, NO_BLOCK } from "./action-blocks.js";
import { DEFAULT_ENCODER, type EncodedInput, type EncoderOptions, symlog } from "./encoder-types.js";
import { CONSTANT_HASH, FeatureHashes, FNV_PRIME } from "./feature-hashes.js";
import type { InteractionSums } from "./interaction-sums.js";
import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "./policy.js";
import { ProfileFilter } from "./profile-filter.js";
import { type CandidateExtras, ServingDots } from "./serving-dots.js";

export {
  DEFAULT_ENCODER,
  type EncodedInput,
  type EncoderOptions,
  type NumericTransform,
  type ProfileSelection,
  symlog,
} from "./encoder-types.js";

/**
 * VW-style feature encoding for action-dependent features (ADF, as in `cb_explore_adf`): every input
 * becomes one shared sparse vector (context features + a constant) and one sparse vector per candidate
 * (its action features, its recommender score, optionally its id, and the shared×action interactions of
 * VW's `-q`). Names are hashed into `dims` slots (hashing trick, Weinberger et al. 2009); a numeric
 * feature `f=v` is slot h("f") with value v, a string feature is the one-hot slot h("f=v") with 1, a
 * boolean is h("f") with 1 when true. Interactions combine the two 32-bit name hashes as VW does
 * (h_s * FNV prime) ^ h_a, then mask to `dims` (a power of two).
 *
 * Speed matters (rank must stay well under 100 µs for 100 candidates): name hashes are memoized, the
 * output lives in reusable growing buffers, and interactions are integer arithmetic only. The parts live
 * apart: feature-hashes.ts (name hashes), action-blocks.ts (candidates' hashed feature blocks),
 * serving-dots.ts (the factored sums of dotsServing), profile-filter.ts, encoder-types.ts (options, output).
 */
export class FeatureEncoder {
  readonly options: EncoderOptions;
  private readonly mask: number;
  private readonly symlog: boolean;
  private readonly profileFilter: ProfileFilter;
  private readonly actionFeatures: boolean;
  private readonly hashes = new FeatureHashes();
  private readonly blocks: ActionBlocks;
  private readonly serving: ServingDots;
  private readonly extraH = new Int32Array(2);
  private readonly extraV = new Float64Array(2);
  /** The candidate extras as ServingDots reads them. */
  private readonly extrasView: CandidateExtras = {
    count: (cand) => this.extras(cand),
    h: this.extraH,
    v: this.extraV,
  };
  /** Running (mean, variance) sums of dots(). */
  private readonly acc = new Float64Array(2);
  private blockId = new Float64Array(128);
  private blockLen = new Int32Array(128);
  private sharedH = new Int32Array(64);
  private sharedIdx = new Int32Array(64);
  private sharedVal = new Float64Array(64);
  private idx = new Int32Array(4096);
  private val = new Float64Array(4096);
  private offsets = new Int32Array(128);
  /** encodeAt()'s result object (after the buffers it points at, which it is built from). */
  private readonly single = this.result();

  constructor(options: Partial<EncoderOptions> = {}) {
    this.options = { ...DEFAULT_ENCODER, ...options };
    const d = this.options.dims;
    if (!Number.isInteger(d) || d < 2 || (d & (d - 1)) !== 0 || d > 1 << 26) {
      throw new Error(`encoder dims must be a power of two in [2, 2^26], got ${d}`);
    }
    this.mask = d - 1;
    this.symlog = this.options.numeric === "symlog";
    this.profileFilter = new ProfileFilter(this.options.profile);
    this.actionFeatures = this.options.actionFeatures !== false;
    this.blocks = new ActionBlocks(this.hashes, this.symlog);
    this.serving = new ServingDots(this.mask, this.blocks, this.hashes, this.symlog, this.actionFeatures);
  }

  /** The profile features this encoder reads (undefined: none), for keys that must change when they do. */
  usedProfile(profile: FeatureMap | undefined): FeatureMap | undefined {
    return this.profileFilter.select(profile);
  }

  /** A numeric value as the model sees it (EncoderOptions.numeric). */
  private num(x: number): number {
    return this.symlog ? symlog(x) : x;
  }

  encode(input: PolicyInput): EncodedInput {
    return this.encodeRange(input, 0, input.candidates.length, this.result());
  }

  /**
   * encode() of the input with candidate `index` alone (`{ context, profile, candidates: [that one] }`), into a
   * result object kept by the encoder: what an update reads, without building that one-candidate input or a
   * result per call. Valid, like encode()'s, until the next call.
   */
  encodeAt(input: PolicyInput, index: number): EncodedInput {
    return this.encodeRange(input, index, index + 1, this.single);
  }

  private result(): EncodedInput {
    const { sharedIdx, sharedVal, offsets, idx, val, blockId, blockLen } = this;
    return { n: 0, sharedIdx, sharedVal, sharedLen: 0, offsets, idx, val, blockId, blockLen };
  }

  /** Encodes candidates [from, to) as candidates 0.. of `out` (its buffers refreshed: they may have grown). */
  private encodeRange(input: PolicyInput, from: number, to: number, out: EncodedInput): EncodedInput {
    const n = to - from;
    const sharedLen = this.encodeShared(input.context, input.profile);
    if (this.offsets.length < n + 1) {
      this.offsets = new Int32Array(2 * (n + 1));
      this.blockId = new Float64Array(2 * (n + 1));
      this.blockLen = new Int32Array(2 * (n + 1));
    }
    const interact = this.options.interactions;
    let pos = 0;
    for (let c = 0; c < n; c++) {
      this.offsets[c] = pos;
      const cand = input.candidates[from + c]!;
      const block = this.candidateBlock(cand);
      const ne = this.extras(cand);
      const nb = block.len;
      // The features block comes first; without interactions it is one entry per feature.
      this.blockId[c] = interact ? -1 : block.uid;
      this.blockLen[c] = interact ? 0 : nb;
      const na = nb + ne;
      const need = pos + na * (interact ? sharedLen : 1) + na;
      if (need > this.idx.length) this.growOut(need);
      pos = this.emit(block.h, block.v, nb, pos, sharedLen);
      pos = this.emit(this.extraH, this.extraV, ne, pos, sharedLen);
    }
    this.offsets[n] = pos;
    out.n = n;
    out.sharedIdx = this.sharedIdx;
    out.sharedVal = this.sharedVal;
    out.sharedLen = sharedLen;
    out.offsets = this.offsets;
    out.idx = this.idx;
    out.val = this.val;
    out.blockId = this.blockId;
    out.blockLen = this.blockLen;
    return out;
  }

  /** Writes the entries of action features (h, v)[0..len) from `pos`; returns the next position. */
  private emit(hs: Int32Array, vs: Float64Array, len: number, pos: number, sharedLen: number): number {
    const { idx, val, mask, sharedH: sh, sharedVal: sv } = this;
    const shared = this.options.interactions ? sharedLen : 1;
    for (let j = 0; j < len; j++) {
      const h = hs[j]!;
      const v = vs[j]!;
      idx[pos] = h & mask;
      val[pos++] = v;
      // The constant shared feature is skipped: action × 1 would duplicate the action feature itself.
      for (let s = 1; s < shared; s++) {
        idx[pos] = (Math.imul(sh[s]!, FNV_PRIME) ^ h) & mask;
        val[pos++] = sv[s]! * v;
      }
    }
    return pos;
  }

  /**
   * For every candidate, out[c] = Σ_j w[idx_j]·val_j over its encoded entries and, when w2 is given,
   * out2[c] = Σ_j w2[idx_j]·val_j²: exactly what encode() followed by those sums gives (same entries, same
   * order, same rounding), without writing the entries out. With interactions a candidate has
   * |actions| × |shared| entries; materializing them cost more than the sums (the regression policies'
   * predictions, reward-model.ts).
   */
  dots(input: PolicyInput, w: Float64Array, out: Float64Array, w2?: Float64Array, out2?: Float64Array): void {
    const n = input.candidates.length;
    const sharedLen = this.encodeShared(input.context, input.profile);
    for (let c = 0; c < n; c++) {
      const cand = input.candidates[c]!;
      const block = this.candidateBlock(cand);
      const ne = this.extras(cand);
      const nb = block.len;
      if (w2 && out2) {
        // Both sums in one pass: each still accumulates its entries in encode()'s order.
        const acc = this.acc;
        acc[0] = 0;
        acc[1] = 0;
        this.sumBoth(block.h, block.v, nb, sharedLen, w, w2);
        this.sumBoth(this.extraH, this.extraV, ne, sharedLen, w, w2);
        out[c] = acc[0]!;
        out2[c] = acc[1]!;
      } else {
        const m = this.sum(block.h, block.v, nb, sharedLen, w, 0);
        out[c] = this.sum(this.extraH, this.extraV, ne, sharedLen, w, m);
      }
    }
  }
  /**
   * dots() with both sums (interactions on), for weights that change only when `sums.invalidate()` is called (a
   * serving copy), read interleaved (`wv[2i]` = w[i], `wv[2i + 1]` = w2[i]): serving-dots.ts has how.
   */
  dotsServing(
    input: PolicyInput,
    wv: Float64Array,
    out: Float64Array,
    out2: Float64Array,
    sums: InteractionSums,
  ): void {
    if (!this.options.interactions) throw new Error("dotsServing() needs interactions: use dots()");
    const len = this.encodeShared(input.context, input.profile);
    this.serving.sum(input, { h: this.sharedH, val: this.sharedVal, len }, wv, out, out2, sums, this.extrasView);
  }

  /** acc + Σ w[idx]·val over the entries emit() would write for (h, v)[0..len), in the same order. */
  private sum(hs: Int32Array, vs: Float64Array, len: number, sharedLen: number, w: Float64Array, acc: number) {
    const { mask, sharedH: sh, sharedVal: sv } = this;
    const shared = this.options.interactions ? sharedLen : 1;
    let m = acc;
    for (let j = 0; j < len; j++) {
      const h = hs[j]!;
      const v = vs[j]!;
      m += w[h & mask]! * v;
      for (let s = 1; s < shared; s++) m += w[(Math.imul(sh[s]!, FNV_PRIME) ^ h) & mask]! * (sv[s]! * v);
    }
    return m;
  }

  /** this.acc += (Σ w[idx]·val, Σ w2[idx]·val²) over the same entries as sum(), in the same order. */
  private sumBoth(
    hs: Int32Array,
    vs: Float64Array,
    len: number,
    sharedLen: number,
    w: Float64Array,
    w2: Float64Array,
    from = 0,
  ) {
    const { mask, sharedH: sh, sharedVal: sv } = this;
    const shared = this.options.interactions ? sharedLen : 1;
    let m = this.acc[0]!;
    let q = this.acc[1]!;
    for (let j = from; j < len; j++) {
      const h = hs[j]!;
      const v = vs[j]!;
      let k = h & mask;
      m += w[k]! * v;
      q += w2[k]! * v * v;
      for (let s = 1; s < shared; s++) {
        const x = sv[s]! * v;
        k = (Math.imul(sh[s]!, FNV_PRIME) ^ h) & mask;
        m += w[k]! * x;
        q += w2[k]! * x * x;
      }
    }
    this.acc[0] = m;
    this.acc[1] = q;
  }

  /** The per-request action entries of a candidate (its id, its score) into extraH/extraV; returns their count. */
  private extras(cand: PolicyInput["candidates"][number]): number {
    let k = 0;
    if (this.options.id) {
      this.extraH[k] = this.hashes.idHash(cand.id);
      this.extraV[k++] = 1;
    }
    if (this.options.score && cand.score !== undefined && Number.isFinite(cand.score)) {
      this.extraH[k] = this.hashes.scoreHash;
      this.extraV[k++] = this.num(cand.score);
    }
    return k;
  }

  /**
   * Shared slots (slot 0 is the constant) into sharedH/sharedIdx/sharedVal; returns their count. The
   * selected profile features come first and the request context after them: the order of the merged
   * `{ ...profile, ...context }` the shared features were before the namespace split.
   */
  private encodeShared(context: FeatureMap, profile: FeatureMap | undefined): number {
    this.sharedH[0] = CONSTANT_HASH;
    this.sharedIdx[0] = CONSTANT_HASH & this.mask;
    this.sharedVal[0] = 1;
    let len = 1;
    const filter = this.profileFilter;
    if (profile !== undefined && !filter.none) {
      for (const name in profile) {
        if (name in context || !filter.accepts(name)) continue;
        len = this.pushShared(len, name, profile[name]!);
      }
    }
    for (const name in context) len = this.pushShared(len, name, context[name]!);
    return len;
  }

  /** Appends shared feature `name` = `raw` (skipped when 0, false or not finite); returns the new count. */
  private pushShared(len: number, name: string, raw: FeatureValue): number {
    let h: number;
    let v: number;
    if (typeof raw === "number") {
      if (raw === 0 || !Number.isFinite(raw)) return len;
      h = this.hashes.hashName(name, 0);
      v = this.num(raw);
    } else if (typeof raw === "string") {
      h = this.hashes.pairHash(name, raw);
      v = 1;
    } else {
      if (!raw) return len;
      h = this.hashes.hashName(name, 0);
      v = 1;
    }
    if (len >= this.sharedH.length) this.growShared();
    this.sharedH[len] = h;
    this.sharedIdx[len] = h & this.mask;
    this.sharedVal[len] = v;
    return len + 1;
  }

  /** A candidate's action block: from its feature layers when it has them, else from its features object. */
  private candidateBlock(cand: PolicyCandidate): ActionBlock {
    if (!this.actionFeatures) return NO_BLOCK;
    const layers = cand[FEATURE_LAYERS];
    if (layers !== undefined && cand.features !== undefined) {
      const block = this.blocks.layeredBlock(layers[0], layers[1]);
      if (block) return block;
    }
    return this.blocks.block(cand.features);
  }

  private growShared(): void {
    const size = this.sharedH.length * 2;
    const h = new Int32Array(size);
    h.set(this.sharedH);
    this.sharedH = h;
    const i = new Int32Array(size);
    i.set(this.sharedIdx);
    this.sharedIdx = i;
    const v = new Float64Array(size);
    v.set(this.sharedVal);
    this.sharedVal = v;
  }

  private growOut(need: number): void {
    const size = Math.max(need, this.idx.length * 2);
    const i = new Int32Array(size);
    i.set(this.idx);
    this.idx = i;
    const v = new Float64Array(size);
    v.set(this.val);
    this.val = v;
  }
}
