import { murmur3 } from "../core/hash.js";
import type { FeatureMap } from "../core/types.js";
import type { PolicyCandidate } from "./policy.js";

/**
 * A short key for a request (context features, candidate ids and scores), used to find its Thompson
 * sample pool. A 64-bit hash (two independent 32-bit mixes) instead of the concatenated text: a key built
 * by concatenation must be flattened and hashed by the Map on every request (~10 µs for 100 candidates),
 * whereas strings that recur (feature names, item ids) are hashed once and memoized here. A collision
 * (probability ~n²/2⁶⁵) would make two requests share a pool: their propensities would still be the exact
 * probabilities of what was served, only the posterior draw would be another context's.
 */
const memo = new Map<string, number>();
const MEMO_LIMIT = 1 << 20;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function hashString(s: string): number {
  let h = memo.get(s);
  if (h === undefined) {
    h = murmur3(s, 0x6b657973);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(s, h);
  }
  return h;
}

class Mixer {
  a = 0x243f6a88;
  b = 0x85a308d3;
  add(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x9e3779b1);
    this.a ^= this.a >>> 15;
    this.b = Math.imul(this.b ^ x, 0x85ebca77);
    this.b ^= this.b >>> 13;
    this.b = (this.b + 0x165667b1) | 0;
  }
  addNumber(v: number): void {
    f64[0] = v;
    this.add(u32[0]!);
    this.add(u32[1]!);
  }
  addValue(v: number | string | boolean): void {
    if (typeof v === "number") this.addNumber(v);
    else if (typeof v === "string") this.add(hashString(v) ^ 0x51ed27);
    else this.add(v ? 0x7f4a7c15 : 0x3c6ef372);
  }
  key(n: number): string {
    return `${(this.a >>> 0).toString(36)}.${(this.b >>> 0).toString(36)}.${n}`;
  }
}

export function requestKey(
  context: FeatureMap,
  candidates: ReadonlyArray<PolicyCandidate>,
  scores = true,
  profile?: FeatureMap,
): string {
  const m = mixContext(context, profile);
  m.add(0x5bd1e995);
  for (const c of candidates) {
    m.add(hashString(c.id));
    if (scores && c.score !== undefined) m.addNumber(c.score);
    else m.add(0x27d4eb2f);
  }
  return m.key(candidates.length);
}

/**
 * A 32-bit hash of a request's context and the profile features a model reads: it varies the pairing
 * of Thompson noise rows per context (noise-bank.ts). A collision only pairs two contexts' draws alike.
 */
export function contextHash(context: FeatureMap, profile?: FeatureMap): number {
  const m = mixContext(context, profile);
  return (m.a ^ m.b) >>> 0;
}

/** The request context, then the profile features a model reads (after a separator), mixed in order. */
function mixContext(context: FeatureMap, profile: FeatureMap | undefined): Mixer {
  const m = new Mixer();
  for (const name in context) {
    m.add(hashString(name));
    m.addValue(context[name]!);
  }
  if (profile !== undefined) {
    m.add(0x1b873593);
    for (const name in profile) {
      m.add(hashString(name));
      m.addValue(profile[name]!);
    }
  }
  return m;
}
