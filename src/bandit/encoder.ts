import { murmur3 } from "../core/hash.js";
import type { FeatureMap } from "../core/types.js";
import type { PolicyInput } from "./policy.js";

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
 * output lives in reusable growing buffers, and interactions are integer arithmetic only.
 */
export interface EncoderOptions {
  /** Number of hashed slots, a power of two. */
  dims: number;
  /** Add shared×action interactions (VW `-q sa`). */
  interactions: boolean;
  /** Add the candidate id as a one-hot action feature (per-item weights; with interactions, per-item × context). On by default: without it, candidates without features are indistinguishable. */
  id: boolean;
  /** Add the recommender score as a numeric action feature when present. */
  score: boolean;
}

export const DEFAULT_ENCODER: EncoderOptions = { dims: 1 << 18, interactions: true, id: true, score: true };

/** Sparse vector views into the encoder's buffers: valid until the next `encode` call. */
export interface EncodedInput {
  n: number;
  sharedIdx: Int32Array;
  sharedVal: Float64Array;
  sharedLen: number;
  /** Candidate c occupies [offsets[c], offsets[c+1]) of `idx`/`val`. */
  offsets: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

const SHARED_SEED = 0x5eed0001;
const ACTION_SEED = 0x5eed0002;
const FNV_PRIME = 0x01000193;
const CONSTANT_HASH = murmur3("__constant", SHARED_SEED);
const MEMO_LIMIT = 1 << 20;

export class FeatureEncoder {
  readonly options: EncoderOptions;
  private readonly mask: number;
  private readonly memo = [new Map<string, number>(), new Map<string, number>()];
  private readonly actionCache = new WeakMap<FeatureMap, { h: Int32Array; v: Float64Array }>();
  private sharedH = new Int32Array(64);
  private sharedIdx = new Int32Array(64);
  private sharedVal = new Float64Array(64);
  private actH = new Int32Array(64);
  private actV = new Float64Array(64);
  private idx = new Int32Array(4096);
  private val = new Float64Array(4096);
  private offsets = new Int32Array(128);

  constructor(options: Partial<EncoderOptions> = {}) {
    this.options = { ...DEFAULT_ENCODER, ...options };
    const d = this.options.dims;
    if (!Number.isInteger(d) || d < 2 || (d & (d - 1)) !== 0 || d > 1 << 26) {
      throw new Error(`encoder dims must be a power of two in [2, 2^26], got ${d}`);
    }
    this.mask = d - 1;
  }

  encode(input: PolicyInput): EncodedInput {
    const n = input.candidates.length;
    const sharedLen = this.encodeShared(input.context);
    if (this.offsets.length < n + 1) this.offsets = new Int32Array(2 * (n + 1));
    const mask = this.mask;
    const interact = this.options.interactions;
    let pos = 0;
    for (let c = 0; c < n; c++) {
      this.offsets[c] = pos;
      const cand = input.candidates[c]!;
      let na = this.actionFeatures(cand.features);
      if (this.options.id) na = this.pushAction(na, this.hashName(`__id=${cand.id}`, 1), 1);
      if (this.options.score && cand.score !== undefined && Number.isFinite(cand.score)) {
        na = this.pushAction(na, this.hashName("__score", 1), cand.score);
      }
      const need = pos + na * (interact ? sharedLen : 1) + na;
      if (need > this.idx.length) this.growOut(need);
      const idx = this.idx;
      const val = this.val;
      const actH = this.actH;
      const actV = this.actV;
      for (let j = 0; j < na; j++) {
        const h = actH[j]!;
        const v = actV[j]!;
        idx[pos] = h & mask;
        val[pos++] = v;
        if (!interact) continue;
        const sh = this.sharedH;
        const sv = this.sharedVal;
        // The constant shared feature is skipped: action × 1 would duplicate the action feature itself.
        for (let s = 1; s < sharedLen; s++) {
          idx[pos] = (Math.imul(sh[s]!, FNV_PRIME) ^ h) & mask;
          val[pos++] = sv[s]! * v;
        }
      }
    }
    this.offsets[n] = pos;
    return {
      n,
      sharedIdx: this.sharedIdx,
      sharedVal: this.sharedVal,
      sharedLen,
      offsets: this.offsets,
      idx: this.idx,
      val: this.val,
    };
  }

  /** Shared slots (slot 0 is the constant) into sharedH/sharedIdx/sharedVal; returns their count. */
  private encodeShared(context: FeatureMap): number {
    let len = 0;
    this.sharedH[len] = CONSTANT_HASH;
    this.sharedIdx[len] = CONSTANT_HASH & this.mask;
    this.sharedVal[len++] = 1;
    for (const name in context) {
      const raw = context[name]!;
      let h: number;
      let v: number;
      if (typeof raw === "number") {
        if (raw === 0 || !Number.isFinite(raw)) continue;
        h = this.hashName(name, 0);
        v = raw;
      } else if (typeof raw === "string") {
        h = this.hashName(`${name}=${raw}`, 0);
        v = 1;
      } else {
        if (!raw) continue;
        h = this.hashName(name, 0);
        v = 1;
      }
      if (len >= this.sharedH.length) this.growShared();
      this.sharedH[len] = h;
      this.sharedIdx[len] = h & this.mask;
      this.sharedVal[len++] = v;
    }
    return len;
  }

  /**
   * Action features of one candidate into actH/actV; returns the count. Hashed features are cached per
   * features object (WeakMap): catalog items hand the same object to every request, so their names are
   * hashed once. A features object must not be mutated in place after it was first encoded.
   */
  private actionFeatures(features: FeatureMap | undefined): number {
    if (features === undefined) return 0;
    const cached = this.actionCache.get(features);
    if (cached) {
      const na = cached.h.length;
      this.ensureAction(na);
      this.actH.set(cached.h);
      this.actV.set(cached.v);
      return na;
    }
    let na = 0;
    for (const name in features) {
      const raw = features[name]!;
      if (typeof raw === "number") {
        if (raw === 0 || !Number.isFinite(raw)) continue;
        na = this.pushAction(na, this.hashName(name, 1), raw);
      } else if (typeof raw === "string") {
        na = this.pushAction(na, this.hashName(`${name}=${raw}`, 1), 1);
      } else if (raw) {
        na = this.pushAction(na, this.hashName(name, 1), 1);
      }
    }
    this.actionCache.set(features, { h: this.actH.slice(0, na), v: this.actV.slice(0, na) });
    return na;
  }

  private ensureAction(size: number): void {
    if (size <= this.actH.length) return;
    const next = Math.max(size, this.actH.length * 2);
    const h2 = new Int32Array(next);
    h2.set(this.actH);
    this.actH = h2;
    const v2 = new Float64Array(next);
    v2.set(this.actV);
    this.actV = v2;
  }

  private pushAction(na: number, h: number, v: number): number {
    this.ensureAction(na + 1);
    this.actH[na] = h;
    this.actV[na] = v;
    return na + 1;
  }

  /** Memoized 32-bit name hash per namespace (0 shared, 1 action); the memo is bounded and reset when full. */
  private hashName(name: string, ns: 0 | 1): number {
    const memo = this.memo[ns]!;
    let h = memo.get(name);
    if (h === undefined) {
      h = murmur3(name, ns === 0 ? SHARED_SEED : ACTION_SEED) | 0;
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(name, h);
    }
    return h;
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

/** Parses the `features` part of a PolicySpec into encoder options (unknown keys are rejected by the caller's schema). */
export function encoderOptions(features: Record<string, unknown> | undefined): Partial<EncoderOptions> {
  const out: Partial<EncoderOptions> = {};
  if (!features) return out;
  if (typeof features.dims === "number") out.dims = features.dims;
  if (typeof features.interactions === "boolean") out.interactions = features.interactions;
  if (typeof features.id === "boolean") out.id = features.id;
  if (typeof features.score === "boolean") out.score = features.score;
  return out;
}
