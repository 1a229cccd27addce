import { type ActionBlock, type ActionBlocks, startsWithDigit } from "./action-blocks.js";
import { symlog } from "./encoder-types.js";
import { type FeatureHashes, FNV_PRIME } from "./feature-hashes.js";
import { BlockSums, type InteractionSums, SUMS_STRIDE, type SumsColumn } from "./interaction-sums.js";
import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "./policy.js";

/** A request's encoded shared slots (slot 0 the constant): hashes and values of [0, len). */
export interface SharedSlots {
  h: Int32Array;
  val: Float64Array;
  len: number;
}

/** A candidate's per-request action entries (id, score): `count(cand)` writes them into h/v and returns how many. */
export interface CandidateExtras {
  count(cand: PolicyCandidate): number;
  readonly h: Int32Array;
  readonly v: Float64Array;
}

/** The factored serving sums of FeatureEncoder.dotsServing (encoder.ts), with their per-request memo. */
export class ServingDots {
  /** One request's A1/A2 sums per action hash (a table keyed by hash, reset per request). */
  private readonly requestSums = new BlockSums();
  private requestGeneration = 0;
  /** The request's column of InteractionSums per shared slot s ≥ 1 (looked up once a request). */
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
  /** resolveBases()'s blocks, reused across requests. */
  private readonly bases: (ActionBlock | undefined)[] = [];
  /** Running (mean, variance) sums of one candidate. */
  private readonly acc = new Float64Array(2);
  /** The two sums of sumAt(). */
  private readonly pair = new Float64Array(2);
  /** touchSums()'s sum of the entries it read, kept so the reads are not optimized away. */
  touched = 0;
  /** The current request's shared slots (set by sum()). */
  private sharedH: Int32Array = new Int32Array(0);
  private sharedVal: Float64Array = new Float64Array(0);

  constructor(
    private readonly mask: number,
    private readonly blocks: ActionBlocks,
    private readonly hashes: FeatureHashes,
    private readonly symlog: boolean,
    private readonly actionFeatures: boolean,
  ) {}

  /** A numeric value as the model sees it (EncoderOptions.numeric). */
  private num(x: number): number {
    return this.symlog ? symlog(x) : x;
  }

  /**
   * FeatureEncoder.dotsServing()'s sums over a request whose shared slots are encoded: dots() with both sums, for weights that change only when `sums.invalidate()` is called (a
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
  sum(
    input: PolicyInput,
    shared: SharedSlots,
    wv: Float64Array,
    out: Float64Array,
    out2: Float64Array,
    sums: InteractionSums,
    extras: CandidateExtras,
  ): void {
    const sharedLen = shared.len;
    this.sharedH = shared.h;
    this.sharedVal = shared.val;
    this.requestSums.use(++this.requestGeneration);
    sums.begin();
    const cols = this.sumColumns;
    for (let s = 1; s < sharedLen; s++) cols[s] = sums.column(this.sharedH[s]!);
    const acc = this.acc;
    const bases = this.resolveBases(input.candidates);
    this.touchSums(bases, sharedLen, sums);
    for (let c = 0; c < input.candidates.length; c++) {
      const cand = input.candidates[c]!;
      acc[0] = 0;
      acc[1] = 0;
      if (this.actionFeatures && !this.layeredSums(cand, bases[c], sharedLen, wv, sums)) {
        // A layered candidate's merged object is made for this request (app/rank.ts): hashed into scratch,
        // not cached per object (a WeakMap entry and two arrays per candidate per request, never read again).
        const merged = cand[FEATURE_LAYERS] !== undefined && cand.features !== undefined;
        const block = merged ? this.blocks.scratchBlock(cand.features!) : this.blocks.block(cand.features);
        if (block.len > 0) this.blockSums(block, sharedLen, wv, block.reuses > 0 ? sums : undefined);
      }
      const ne = extras.count(cand);
      for (let j = 0; j < ne; j++) this.entrySums(extras.h[j]!, extras.v[j]!, sharedLen, wv);
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
  private layeredSums(
    cand: PolicyCandidate,
    b: ActionBlock | undefined,
    sharedLen: number,
    wv: Float64Array,
    sums: InteractionSums,
  ) {
    const layers = cand[FEATURE_LAYERS];
    if (layers === undefined || b === undefined || b.indexKeys) return false;
    const [base, overlay] = layers;
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
   * Each layered candidate's base block (undefined for the others), looked up before any sum: the lookups
   * (candidate, its layers, the base object's WeakMap entry, the block) mostly miss the cache, and in a loop of
   * their own successive candidates' misses overlap instead of each waiting between two candidates' sums.
   */
  private resolveBases(candidates: ReadonlyArray<PolicyCandidate>): (ActionBlock | undefined)[] {
    const bases = this.bases;
    const n = candidates.length;
    bases.length = n;
    if (!this.actionFeatures) return bases.fill(undefined);
    for (let c = 0; c < n; c++) {
      const cand = candidates[c]!;
      const layers = cand[FEATURE_LAYERS];
      bases[c] = layers !== undefined && cand.features !== undefined ? this.blocks.block(layers[0]) : undefined;
    }
    return bases;
  }

  /**
   * Reads one number of each entry blockSums() will read for the layered candidates' base blocks (their own sums and
   * one per shared slot), in a loop of its own: those entries are scattered over the columns and mostly miss the
   * cache, and touched here for every candidate at once their misses overlap instead of each stalling the sums.
   * Only entries already allocated (dataFor grows a column; that stays with blockSums).
   */
  private touchSums(bases: (ActionBlock | undefined)[], sharedLen: number, sums: InteractionSums): void {
    const cols = this.sumColumns;
    let touched = 0;
    for (let c = 0; c < bases.length; c++) {
      const b = bases[c];
      if (b === undefined || b.len === 0 || b.reuses === 0) continue;
      const at = SUMS_STRIDE * sums.indexOf(b);
      const own = sums.own.data;
      if (at < own.length) touched += own[at]!;
      for (let s = 1; s < sharedLen; s++) {
        const d = cols[s]!.data;
        if (at < d.length) touched += d[at]!;
      }
    }
    this.touched = touched;
  }

  /**
   * The action hash of the j-th request feature of a layered candidate: of `name` (value undefined: a number
   * or a boolean) or of `name=value` (a string). The candidates of a request carry the same names in the same
   * order, so the previous candidate's j-th feature usually has this one's hash: no memo Map lookup then.
   */
  private overlayHash(j: number, name: string, value: string | undefined): number {
    const { overlayNames: names, overlayValues: values, overlayHashes: hashes } = this;
    if (j < names.length && names[j] === name && values[j] === value) return hashes[j]!;
    const h = value === undefined ? this.hashes.hashName(name, 1) : this.hashes.pairHash(name, value, 1);
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
    const at = SUMS_STRIDE * i;
    const carried = sums.carried;
    const own = sums.dataFor(sums.own, i);
    if (own[at] !== tag && this.carry(own, at, tag, carried, block, 0, sums)) {
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
      if (d[at] !== tag && this.carry(d, at, tag, carried, block, sh[s]!, sums)) {
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
   * For a stale entry: retags it current and returns false when it is of the carried generation and still holds
   * (unchanged()); true when it must be computed again.
   */
  private carry(
    data: Float64Array,
    at: number,
    tag: number,
    carried: number,
    block: ActionBlock,
    key: number,
    sums: InteractionSums,
  ): boolean {
    if (data[at] !== carried || !this.unchanged(block, key, sums)) return true;
    data[at] = tag;
    return false;
  }

  /**
   * Whether none of the weight slots sumAt(block, key) reads changed since the sums' carried generation: its
   * entry of that generation then holds the same numbers (a pure function of those slots' weights).
   */
  private unchanged(block: ActionBlock, key: number, sums: InteractionSums): boolean {
    const { h, baseLen } = block;
    const mask = this.mask;
    const mix = Math.imul(key, FNV_PRIME);
    for (let j = 0; j < baseLen; j++) if (sums.changedSlot((mix ^ h[j]!) & mask)) return false;
    return true;
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
}
