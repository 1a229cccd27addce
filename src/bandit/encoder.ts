import { murmur3 } from "../core/hash.js";
import type { FeatureMap, FeatureValue } from "../core/types.js";
import { BlockSums, type InteractionSums, type SumsColumn, type SumsSlot } from "./interaction-sums.js";
import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "./policy.js";

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
  /**
   * Numeric values (context, action features, score): `raw`, or `symlog` = sign(x)·log(1 + |x|). A Bayesian
   * linear model with a fixed prior is not scale-invariant: raw feature-store numbers (seconds ≈ 10³, prices
   * ≈ 10²) swamp one-hot features and, through interactions, the posterior (VW copes through its normalized
   * update: Ross, Mineiro & Langford 2013). symlog keeps sign, order and 0 and needs no state (snapshots and
   * offline `distribution()` stay pure). Unset = `raw`, so saved snapshots keep their meaning.
   */
  numeric: NumericTransform;
  /**
   * Which features of `PolicyInput.profile` (the feature store's aggregates for the user) join the shared
   * features: `all`, `none`, or a list of names, each exact or a prefix ending in `*` (`affinity_*`). A
   * request-context feature of the same name wins. Unset = `all`, the behaviour before the namespace split,
   * so saved specs keep their meaning.
   */
  profile: ProfileSelection;
  /**
   * Encode the candidates' `features` (default true). The hybrid model's per-item part turns them off: an
   * item's features are the same on every request, so in a per-item model they only duplicate its intercept
   * (and widen its prior with every feature's scale); the shared part is where they generalize.
   */
  actionFeatures?: boolean;
}

export type ProfileSelection = "all" | "none" | readonly string[];

export type NumericTransform = "raw" | "symlog";

export const DEFAULT_ENCODER: EncoderOptions = {
  dims: 1 << 18,
  interactions: true,
  id: true,
  score: true,
  numeric: "raw",
  profile: "all",
};

/** sign(x)·log(1 + |x|). */
export function symlog(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

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
  /**
   * Without interactions, candidate c's first `blockLen[c]` entries are the hashed encoding of its
   * `features` object, identified by `blockId[c]` (unique for the life of the encoder, never reused; -1 = none). Models
   * may cache per-block products (disjoint-gaussian.ts); the remaining entries (score, id) vary per request.
   */
  blockId: Float64Array;
  blockLen: Int32Array;
}

const SHARED_SEED = 0x5eed0001;
const ACTION_SEED = 0x5eed0002;
const FNV_PRIME = 0x01000193;
const CONSTANT_HASH = murmur3("__constant", SHARED_SEED);
const MEMO_LIMIT = 1 << 20;

/** One features object's hashed action features; `uid` is unique per encoder and never reused. */
interface ActionBlock extends SumsSlot {
  h: Int32Array;
  v: Float64Array;
  /** Entries in h/v (a scratch block's buffers are longer). */
  len: number;
  uid: number;
  /** A name of the object is an array index ("0", "12"): objects order those first, so layers cannot be concatenated. */
  indexKeys: boolean;
  /** Times the object was encoded again after its first time (a fresh per-request object stays at 0). */
  reuses: number;
  /** Entries [0, baseLen) are those of a reused features object with uid baseUid (a layered block's base). */
  baseUid: number;
  baseLen: number;
}

const NO_BLOCK: ActionBlock = {
  h: new Int32Array(0),
  v: new Float64Array(0),
  len: 0,
  uid: -1,
  indexKeys: false,
  reuses: 0,
  baseUid: -1,
  baseLen: 0,
  sumsOwner: undefined,
  sumsEra: -1,
  sumsIndex: -1,
};

export class FeatureEncoder {
  readonly options: EncoderOptions;
  private readonly mask: number;
  private readonly symlog: boolean;
  private readonly profileFilter: ProfileFilter;
  private readonly actionFeatures: boolean;
  private readonly memo = [new Map<string, number>(), new Map<string, number>()];
  /** name → value → hash of `name=value` (shared namespace): no string concatenation per request. */
  /** Per namespace (0 shared, 1 action): name → value → hash of `${name}=${value}`. */
  private readonly pairMemo = [new Map<string, Map<string, number>>(), new Map<string, Map<string, number>>()];
  private pairCount = 0;
  /** candidate id → hash of `__id=<id>` (action namespace). */
  private readonly idMemo = new Map<string, number>();
  private readonly scoreHash = murmur3("__score", ACTION_SEED) | 0;
  private readonly actionCache = new WeakMap<FeatureMap, ActionBlock>();
  /** The block of a layered candidate (base block + overlay entries), rebuilt per candidate in actH/actV. */
  private readonly layered: ActionBlock = { ...NO_BLOCK };
  private nextUid = 0;
  private readonly extraH = new Int32Array(2);
  private readonly extraV = new Float64Array(2);
  /** dotsServing(): one request's A1/A2 sums per action hash (a table keyed by hash, reset per request). */
  private readonly requestSums = new BlockSums();
  private requestGeneration = 0;
  /** dotsServing(): the request's column of InteractionSums per shared slot s ≥ 1 (looked up once a request). */
  private sumColumns: SumsColumn[] = [];
  /** overlayHash(): the last name, string value (undefined: none) and hash seen at each request-feature position. */
  private readonly overlayNames: string[] = [];
  private readonly overlayValues: (string | undefined)[] = [];
  private readonly overlayHashes: number[] = [];
  /** entrySums() at request-feature position j: the request generation, hash and (A1, A2) it last summed there. */
  private readonly positionGen: number[] = [];
  private readonly positionHash: number[] = [];
  private readonly positionA1: number[] = [];
  private readonly positionA2: number[] = [];
  /** Running (mean, variance) sums of dots(). */
  private readonly acc = new Float64Array(2);
  /** The two sums of sumAt(). */
  private readonly pair = new Float64Array(2);
  private blockId = new Float64Array(128);
  private blockLen = new Int32Array(128);
  private sharedH = new Int32Array(64);
  private sharedIdx = new Int32Array(64);
  private sharedVal = new Float64Array(64);
  private actH = new Int32Array(64);
  private actV = new Float64Array(64);
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
   * serving copy), read interleaved: `wv[2i]` = w[i], `wv[2i + 1]` = w2[i] (DiagonalGaussian.servingPairs), so
   * a slot's two weights share a cache line: a miss in the sums below is one random read of a large table, not two.
   * a reused features block's interaction sums come from `sums` (interaction-sums.ts), and every other entry
   * (a layered candidate's request features, the score, the id) is summed in factored form per action hash,
   * A1(h) = w[h] + Σ_s w[h(s, h)]·x_s and A2(h) = w2[h] + Σ_s w2[h(s, h)]·x_s², so its entries cost v·A1(h)
   * and v²·A2(h); the A's of one request are kept per hash (a numeric feature hashes by name, so its A's are
   * the same for every candidate of the request). A layered candidate's merged block is never built. The
   * order is fixed and factored (the block's sums, then the other entries in the merged object's order), so
   * cache hits and misses give the same numbers; they differ from dots() by rounding only.
   */
  dotsServing(
    input: PolicyInput,
    wv: Float64Array,
    out: Float64Array,
    out2: Float64Array,
    sums: InteractionSums,
  ): void {
    if (!this.options.interactions) throw new Error("dotsServing() needs interactions: use dots()");
    const sharedLen = this.encodeShared(input.context, input.profile);
    this.requestSums.use(++this.requestGeneration);
    sums.begin();
    const cols = this.sumColumns;
    for (let s = 1; s < sharedLen; s++) cols[s] = sums.column(this.sharedH[s]!);
    const acc = this.acc;
    for (let c = 0; c < input.candidates.length; c++) {
      const cand = input.candidates[c]!;
      acc[0] = 0;
      acc[1] = 0;
      if (this.actionFeatures && !this.layeredSums(cand, sharedLen, wv, sums)) {
        // A layered candidate's merged object is made for this request (app/rank.ts): hashed into scratch,
        // not cached per object (a WeakMap entry and two arrays per candidate per request, never read again).
        const merged = cand[FEATURE_LAYERS] !== undefined && cand.features !== undefined;
        const block = merged ? this.scratchBlock(cand.features!) : this.block(cand.features);
        if (block.len > 0) this.blockSums(block, sharedLen, wv, block.reuses > 0 ? sums : undefined);
      }
      const ne = this.extras(cand);
      for (let j = 0; j < ne; j++) this.entrySums(this.extraH[j]!, this.extraV[j]!, sharedLen, wv);
      out[c] = acc[0]!;
      out2[c] = acc[1]!;
    }
  }

  /**
   * acc += a layered candidate's sums: its base block's (cached per block), then each request feature's by
   * entrySums, in the merged object's key order. False, with acc untouched, when the candidate has no layers
   * or they do not concatenate (an overlay name also in base, an array-index name): the caller then sums the
   * merged object's block, as block() would encode it.
   */
  private layeredSums(cand: PolicyCandidate, sharedLen: number, wv: Float64Array, sums: InteractionSums) {
    const layers = cand[FEATURE_LAYERS];
    if (layers === undefined || cand.features === undefined) return false;
    const [base, overlay] = layers;
    const b = this.block(base);
    if (b.indexKeys) return false;
    for (const name in overlay) if (name in base || startsWithDigit(name)) return false;
    if (b.len > 0) this.blockSums(b, sharedLen, wv, b.reuses > 0 ? sums : undefined);
    let j = 0;
    for (const name in overlay) {
      const raw = overlay[name]!;
      if (typeof raw === "number") {
        if (raw !== 0 && Number.isFinite(raw))
          this.entrySums(this.overlayHash(j, name, undefined), this.num(raw), sharedLen, wv, j);
      } else if (typeof raw === "string") {
        this.entrySums(this.overlayHash(j, name, raw), 1, sharedLen, wv, j);
      } else if (raw) {
        this.entrySums(this.overlayHash(j, name, undefined), 1, sharedLen, wv, j);
      }
      j++;
    }
    return true;
  }

  /**
   * The action hash of the j-th request feature of a layered candidate: of `name` (value undefined: a number
   * or a boolean) or of `name=value` (a string). The candidates of a request carry the same names in the same
   * order, so the previous candidate's j-th feature usually has this one's hash: no memo Map lookup then.
   */
  private overlayHash(j: number, name: string, value: string | undefined): number {
    const { overlayNames: names, overlayValues: values, overlayHashes: hashes } = this;
    if (j < names.length && names[j] === name && values[j] === value) return hashes[j]!;
    const h = value === undefined ? this.hashName(name, 1) : this.pairHash(name, value, 1);
    names[j] = name;
    values[j] = value;
    hashes[j] = h;
    return h;
  }

  /** acc += (v·A1(h), v²·A2(h)) for action entry (h, v) and its interactions, A's kept for the request. */
  private entrySums(h: number, v: number, sharedLen: number, wv: Float64Array, position = -1): void {
    const gen = this.requestGeneration;
    if (position >= 0 && this.positionGen[position] === gen && this.positionHash[position] === h) {
      // The previous candidate's feature at this position had the same hash: its A's, without a probe.
      const acc = this.acc;
      acc[0] = acc[0]! + v * this.positionA1[position]!;
      acc[1] = acc[1]! + v * v * this.positionA2[position]!;
      return;
    }
    const memo = this.requestSums;
    const slot = memo.find(h);
    let a1: number;
    let a2: number;
    if (slot >= 0) {
      a1 = memo.p1(slot);
      a2 = memo.p2(slot);
    } else {
      const { mask, sharedH: sh, sharedVal: sv } = this;
      a1 = wv[2 * (h & mask)]!;
      a2 = wv[2 * (h & mask) + 1]!;
      for (let s = 1; s < sharedLen; s++) {
        const x = sv[s]!;
        const k = 2 * ((Math.imul(sh[s]!, FNV_PRIME) ^ h) & mask);
        a1 += wv[k]! * x;
        a2 += wv[k + 1]! * x * x;
      }
      memo.insert(slot, h, a1, a2);
    }
    if (position >= 0) {
      this.positionGen[position] = gen;
      this.positionHash[position] = h;
      this.positionA1[position] = a1;
      this.positionA2[position] = a2;
    }
    const acc = this.acc;
    acc[0] = acc[0]! + v * a1;
    acc[1] = acc[1]! + v * v * a2;
  }

  /**
   * acc += the factored sums of entries [0, baseLen) of `block`, read from or stored in `sums` when given
   * (its columns for this request's shared slots are in sumColumns): own + Σ_s x_s·P1(s), own2 + Σ_s x_s²·P2(s).
   */
  private blockSums(block: ActionBlock, sharedLen: number, wv: Float64Array, sums?: InteractionSums) {
    const { sharedH: sh, sharedVal: sv, acc, pair } = this;
    if (!sums) {
      this.sumAt(block, 0, wv);
      let m = pair[0]!;
      let q = pair[1]!;
      for (let s = 1; s < sharedLen; s++) {
        this.sumAt(block, sh[s]!, wv);
        const x = sv[s]!;
        m += x * pair[0]!;
        q += x * x * pair[1]!;
      }
      acc[0] = acc[0]! + m;
      acc[1] = acc[1]! + q;
      return;
    }
    const tag = sums.tag;
    const i = sums.indexOf(block);
    const at = 3 * i;
    const own = sums.dataFor(sums.own, i);
    if (own[at] !== tag) {
      this.sumAt(block, 0, wv);
      own[at] = tag;
      own[at + 1] = pair[0]!;
      own[at + 2] = pair[1]!;
    }
    let m = own[at + 1]!;
    let q = own[at + 2]!;
    const cols = this.sumColumns;
    for (let s = 1; s < sharedLen; s++) {
      const d = sums.dataFor(cols[s]!, i);
      if (d[at] !== tag) {
        this.sumAt(block, sh[s]!, wv);
        d[at] = tag;
        d[at + 1] = pair[0]!;
        d[at + 2] = pair[1]!;
      }
      const x = sv[s]!;
      m += x * d[at + 1]!;
      q += x * x * d[at + 2]!;
    }
    acc[0] = acc[0]! + m;
    acc[1] = acc[1]! + q;
  }

  /**
   * pair = (Σ_j w[k_j]·v_j, Σ_j w2[k_j]·v_j², read from wv) over entries [0, baseLen), k_j the slot of the interaction of
   * shared hash `key` with a_j; key 0 gives a_j's own slot (emit()'s formula with a zero hash is h & mask).
   */
  private sumAt(block: ActionBlock, key: number, wv: Float64Array): void {
    const { h, v, baseLen } = block;
    const mask = this.mask;
    const mix = Math.imul(key, FNV_PRIME);
    let p1 = 0;
    let p2 = 0;
    for (let j = 0; j < baseLen; j++) {
      const k = 2 * ((mix ^ h[j]!) & mask);
      const x = v[j]!;
      p1 += wv[k]! * x;
      p2 += wv[k + 1]! * x * x;
    }
    this.pair[0] = p1;
    this.pair[1] = p2;
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
      this.extraH[k] = this.idHash(cand.id);
      this.extraV[k++] = 1;
    }
    if (this.options.score && cand.score !== undefined && Number.isFinite(cand.score)) {
      this.extraH[k] = this.scoreHash;
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
      h = this.hashName(name, 0);
      v = this.num(raw);
    } else if (typeof raw === "string") {
      h = this.pairHash(name, raw);
      v = 1;
    } else {
      if (!raw) return len;
      h = this.hashName(name, 0);
      v = 1;
    }
    if (len >= this.sharedH.length) this.growShared();
    this.sharedH[len] = h;
    this.sharedIdx[len] = h & this.mask;
    this.sharedVal[len] = v;
    return len + 1;
  }

  /**
   * The hashed action features of a features object, cached per object (WeakMap): catalog items hand the
   * same object to every request, so their names are hashed once and models can cache products with the
   * block by its `uid`. A features object must not be mutated in place after it was first encoded.
   */
  private block(features: FeatureMap | undefined): ActionBlock {
    if (features === undefined) return NO_BLOCK;
    const cached = this.actionCache.get(features);
    if (cached) {
      cached.reuses++;
      return cached;
    }
    let na = 0;
    let indexKeys = false;
    for (const name in features) {
      indexKeys ||= startsWithDigit(name);
      na = this.pushFeature(na, name, features[name]!);
    }
    const uid = this.nextUid++;
    const h = this.actH.slice(0, na);
    const block: ActionBlock = {
      h,
      v: this.actV.slice(0, na),
      len: na,
      uid,
      indexKeys,
      reuses: 0,
      baseUid: uid,
      baseLen: na,
      sumsOwner: undefined,
      sumsEra: -1,
      sumsIndex: -1,
    };
    this.actionCache.set(features, block);
    return block;
  }

  /**
   * block(features)'s entries (the same, in the same order) in the scratch block, without caching them: for an
   * object used once. Valid until the next block is asked for; `reuses` 0, so no cached sums are read for it.
   */
  private scratchBlock(features: FeatureMap): ActionBlock {
    let na = 0;
    for (const name in features) na = this.pushFeature(na, name, features[name]!);
    const out = this.layered;
    out.h = this.actH;
    out.v = this.actV;
    out.len = na;
    out.uid = this.nextUid++;
    out.reuses = 0;
    out.baseUid = out.uid;
    out.baseLen = na;
    return out;
  }

  /** A candidate's action block: from its feature layers when it has them, else from its features object. */
  private candidateBlock(cand: PolicyCandidate): ActionBlock {
    if (!this.actionFeatures) return NO_BLOCK;
    const layers = cand[FEATURE_LAYERS];
    if (layers !== undefined && cand.features !== undefined) {
      const block = this.layeredBlock(layers[0], layers[1]);
      if (block) return block;
    }
    return this.block(cand.features);
  }

  /**
   * The block of `{ ...base, ...overlay }` without building or caching it: base's cached entries, then the
   * overlay's, which is the merged object's key order (and so the same entries, in the same order, as
   * block(merged)) when no overlay name is also in base and no name is an array index. Otherwise undefined
   * (the caller hashes the merged object). Valid until the next block is asked for; its uid is fresh, so
   * models never reuse products cached for another request's block.
   */
  private layeredBlock(base: FeatureMap, overlay: FeatureMap): ActionBlock | undefined {
    const b = this.block(base);
    if (b.indexKeys) return undefined;
    this.ensureAction(b.len);
    this.actH.set(b.h.subarray(0, b.len));
    this.actV.set(b.v.subarray(0, b.len));
    let na = b.len;
    for (const name in overlay) {
      if (name in base || startsWithDigit(name)) return undefined;
      na = this.pushFeature(na, name, overlay[name]!);
    }
    const out = this.layered;
    out.h = this.actH;
    out.v = this.actV;
    out.len = na;
    out.uid = this.nextUid++;
    out.reuses = b.reuses;
    out.baseUid = b.uid;
    out.baseLen = b.len;
    return out;
  }

  /** Appends action feature `name` = `raw` to actH/actV (skipped when 0, false or not finite); returns the count. */
  private pushFeature(na: number, name: string, raw: FeatureValue): number {
    if (typeof raw === "number") {
      if (raw === 0 || !Number.isFinite(raw)) return na;
      return this.pushAction(na, this.hashName(name, 1), this.num(raw));
    }
    if (typeof raw === "string") return this.pushAction(na, this.pairHash(name, raw, 1), 1);
    return raw ? this.pushAction(na, this.hashName(name, 1), 1) : na;
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

  /** hashName(`${name}=${value}`, ns) without building the string on a memo hit. */
  private pairHash(name: string, value: string, ns: 0 | 1 = 0): number {
    const memo = this.pairMemo[ns]!;
    let byValue = memo.get(name);
    if (byValue === undefined) {
      byValue = new Map();
      memo.set(name, byValue);
    }
    let h = byValue.get(value);
    if (h === undefined) {
      h = murmur3(`${name}=${value}`, ns === 0 ? SHARED_SEED : ACTION_SEED) | 0;
      if (this.pairCount >= MEMO_LIMIT) {
        for (const m of this.pairMemo) m.clear();
        this.pairCount = 0;
        memo.set(name, byValue);
        byValue.clear();
      }
      byValue.set(value, h);
      this.pairCount++;
    }
    return h;
  }

  /** hashName(`__id=${id}`, 1) without building the string on a memo hit. */
  private idHash(id: string): number {
    let h = this.idMemo.get(id);
    if (h === undefined) {
      h = murmur3(`__id=${id}`, ACTION_SEED) | 0;
      if (this.idMemo.size >= MEMO_LIMIT) this.idMemo.clear();
      this.idMemo.set(id, h);
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

/** Conservative test for an array-index name (objects list those first, whatever the insertion order). */
function startsWithDigit(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/**
 * A ProfileSelection as a predicate on names, memoized per name (the profile's names are a small fixed set
 * that repeats on every request).
 */
class ProfileFilter {
  readonly none: boolean;
  private readonly all: boolean;
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly memo = new Map<string, boolean>();

  constructor(selection: ProfileSelection) {
    this.all = selection === "all";
    this.none = selection === "none" || (Array.isArray(selection) && selection.length === 0);
    if (Array.isArray(selection)) {
      for (const p of selection) {
        if (p.endsWith("*")) this.prefixes.push(p.slice(0, -1));
        else this.exact.add(p);
      }
    }
  }

  accepts(name: string): boolean {
    if (this.all) return true;
    if (this.none) return false;
    let ok = this.memo.get(name);
    if (ok === undefined) {
      ok = this.exact.has(name) || this.prefixes.some((p) => name.startsWith(p));
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(name, ok);
    }
    return ok;
  }

  /** The accepted part of a profile; the profile itself when all of it is. */
  select(profile: FeatureMap | undefined): FeatureMap | undefined {
    if (profile === undefined || this.none) return undefined;
    if (this.all) return profile;
    const out: FeatureMap = {};
    for (const name in profile) if (this.accepts(name)) out[name] = profile[name]!;
    return out;
  }
}
