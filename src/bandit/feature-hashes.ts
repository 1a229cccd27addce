import { murmur3 } from "../core/hash.js";

/**
 * The encoder's name hashes (encoder.ts): murmur3 per namespace (shared, action), memoized so a request hashes no
 * string it has seen before. Interactions combine two 32-bit name hashes as VW does, (h_s * FNV prime) ^ h_a.
 */
export const SHARED_SEED = 0x5eed0001;
export const ACTION_SEED = 0x5eed0002;
export const FNV_PRIME = 0x01000193;
export const CONSTANT_HASH = murmur3("__constant", SHARED_SEED);
export const MEMO_LIMIT = 1 << 20;

export class FeatureHashes {
  private readonly memo = [new Map<string, number>(), new Map<string, number>()];
  /** Per namespace (0 shared, 1 action): name → value → hash of `${name}=${value}`. */
  private readonly pairMemo = [new Map<string, Map<string, number>>(), new Map<string, Map<string, number>>()];
  private pairCount = 0;
  /** candidate id → hash of `__id=<id>` (action namespace). */
  private readonly idMemo = new Map<string, number>();
  readonly scoreHash = murmur3("__score", ACTION_SEED) | 0;

  /** Memoized 32-bit name hash per namespace (0 shared, 1 action); the memo is bounded and reset when full. */
  hashName(name: string, ns: 0 | 1): number {
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
  pairHash(name: string, value: string, ns: 0 | 1 = 0): number {
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
  idHash(id: string): number {
    let h = this.idMemo.get(id);
    if (h === undefined) {
      h = murmur3(`__id=${id}`, ACTION_SEED) | 0;
      if (this.idMemo.size >= MEMO_LIMIT) this.idMemo.clear();
      this.idMemo.set(id, h);
    }
    return h;
  }
}
