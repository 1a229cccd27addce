import type { FeatureMap, FeatureValue } from "../core/types.js";
import { symlog } from "./encoder-types.js";
import type { FeatureHashes } from "./feature-hashes.js";
import type { SumsSlot } from "./interaction-sums.js";

/** One features object's hashed action features; `uid` is unique per encoder and never reused. */
export interface ActionBlock extends SumsSlot {
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

export const NO_BLOCK: ActionBlock = {
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

/**
 * The hashed action features of candidates' features objects (encoder.ts): one cached block per object, and
 * the uncached blocks of objects used once (scratch) or merged from layers (policy.ts FEATURE_LAYERS).
 */
export class ActionBlocks {
  private readonly cache = new WeakMap<FeatureMap, ActionBlock>();
  /** The block of a layered candidate (base block + overlay entries), rebuilt per candidate in actH/actV. */
  private readonly layered: ActionBlock = { ...NO_BLOCK };
  private nextUid = 0;
  private actH = new Int32Array(64);
  private actV = new Float64Array(64);

  constructor(
    private readonly hashes: FeatureHashes,
    private readonly symlog: boolean,
  ) {}

  /** A numeric value as the model sees it (EncoderOptions.numeric). */
  private num(x: number): number {
    return this.symlog ? symlog(x) : x;
  }

  /**
   * The hashed action features of a features object, cached per object (WeakMap): catalog items hand the
   * same object to every request, so their names are hashed once and models can cache products with the
   * block by its `uid`. A features object must not be mutated in place after it was first encoded.
   */
  block(features: FeatureMap | undefined): ActionBlock {
    if (features === undefined) return NO_BLOCK;
    const cached = this.cache.get(features);
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
    this.cache.set(features, block);
    return block;
  }

  /**
   * block(features)'s entries (the same, in the same order) in the scratch block, without caching them: for an
   * object used once. Valid until the next block is asked for; `reuses` 0, so no cached sums are read for it.
   */
  scratchBlock(features: FeatureMap): ActionBlock {
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

  /**
   * The block of `{ ...base, ...overlay }` without building or caching it: base's cached entries, then the
   * overlay's, which is the merged object's key order (and so the same entries, in the same order, as
   * block(merged)) when no overlay name is also in base and no name is an array index. Otherwise undefined
   * (the caller hashes the merged object). Valid until the next block is asked for; its uid is fresh, so
   * models never reuse products cached for another request's block.
   */
  layeredBlock(base: FeatureMap, overlay: FeatureMap): ActionBlock | undefined {
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
      return this.pushAction(na, this.hashes.hashName(name, 1), this.num(raw));
    }
    if (typeof raw === "string") return this.pushAction(na, this.hashes.pairHash(name, raw, 1), 1);
    return raw ? this.pushAction(na, this.hashes.hashName(name, 1), 1) : na;
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
}

/** Conservative test for an array-index name (objects list those first, whatever the insertion order). */
export function startsWithDigit(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}
