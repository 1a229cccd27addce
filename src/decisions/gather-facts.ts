import type { DecisionFacts } from "./decision-facts.js";

/** An empty facts batch. */
export function emptyFacts(): DecisionFacts {
  return allocate(0, 0, 0, 0, 0);
}

/**
 * The decisions `order` (indices into `f`), in that order, with all their slots, candidates,
 * probabilities and rewards. Used to filter a batch by time and to put a log in (timestamp, seq) order.
 */
export function gatherFacts(f: DecisionFacts, order: ArrayLike<number>): DecisionFacts {
  const n = order.length;
  let slots = 0;
  let cands = 0;
  let probs = 0;
  let rewards = 0;
  for (let i = 0; i < n; i++) {
    const d = order[i] as number;
    const s0 = f.slotStart[d] as number;
    const s1 = f.slotStart[d + 1] as number;
    slots += s1 - s0;
    cands += (f.candidateStart[d + 1] as number) - (f.candidateStart[d] as number);
    probs += (f.probabilityStart[s1] as number) - (f.probabilityStart[s0] as number);
    rewards += (f.rewardStart[s1] as number) - (f.rewardStart[s0] as number);
  }
  const out = allocate(n, slots, cands, probs, rewards);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = order[i] as number;
    out.seq[i] = f.seq[d] as number;
    out.timestamp[i] = f.timestamp[d] as number;
    out.windowStart[i] = f.windowStart[d] as number;
    out.policy[i] = f.policy[d] as number;
    out.policyVersion[i] = f.policyVersion[d] as number;
    const c0 = f.candidateStart[d] as number;
    const c1 = f.candidateStart[d + 1] as number;
    const at = out.candidateStart[i] as number;
    out.candidates.set(f.candidates.subarray(c0, c1), at);
    out.candidateStart[i + 1] = at + c1 - c0;
    for (let from = f.slotStart[d] as number; from < (f.slotStart[d + 1] as number); from++, s++)
      copySlot(f, from, out, s);
    out.slotStart[i + 1] = s;
  }
  return out;
}

function copySlot(f: DecisionFacts, from: number, out: DecisionFacts, s: number): void {
  out.position[s] = f.position[from] as number;
  out.action[s] = f.action[from] as number;
  out.item[s] = f.item[from] as number;
  out.propensity[s] = f.propensity[from] as number;
  out.hasProbabilities[s] = f.hasProbabilities[from] as number;
  const p0 = f.probabilityStart[from] as number;
  const p1 = f.probabilityStart[from + 1] as number;
  const pAt = out.probabilityStart[s] as number;
  out.probabilities.set(f.probabilities.subarray(p0, p1), pAt);
  out.probabilityStart[s + 1] = pAt + p1 - p0;
  const r0 = f.rewardStart[from] as number;
  const r1 = f.rewardStart[from + 1] as number;
  const rAt = out.rewardStart[s] as number;
  out.rewardValue.set(f.rewardValue.subarray(r0, r1), rAt);
  out.rewardStart[s + 1] = rAt + r1 - r0;
}

function allocate(n: number, slots: number, cands: number, probs: number, rewards: number): DecisionFacts {
  return {
    decisions: n,
    seq: new Float64Array(n),
    timestamp: new Float64Array(n),
    windowStart: new Float64Array(n),
    policy: new Int32Array(n),
    policyVersion: new Int32Array(n),
    slotStart: new Int32Array(n + 1),
    candidateStart: new Int32Array(n + 1),
    candidates: new Int32Array(cands),
    position: new Int32Array(slots),
    action: new Int32Array(slots),
    item: new Int32Array(slots),
    propensity: new Float64Array(slots),
    hasProbabilities: new Uint8Array(slots),
    probabilityStart: new Int32Array(slots + 1),
    probabilities: new Float64Array(probs),
    rewardStart: new Int32Array(slots + 1),
    rewardValue: new Float64Array(rewards),
  };
}

/** Several batches as one (decisions in batch order). */
export function concatFacts(parts: readonly DecisionFacts[]): DecisionFacts {
  if (parts.length === 1) return parts[0] as DecisionFacts;
  if (parts.length === 0) return emptyFacts();
  const size = (f: DecisionFacts) => [
    f.decisions,
    f.position.length,
    f.candidates.length,
    f.probabilities.length,
    f.rewardValue.length,
  ];
  const total = parts.map(size).reduce((a, b) => a.map((v, i) => v + (b[i] as number)));
  const out = allocate(...(total as [number, number, number, number, number]));
  const at = [0, 0, 0, 0, 0];
  for (const f of parts) {
    const [d, s, c, p, r] = at as [number, number, number, number, number];
    for (const key of ["seq", "timestamp", "windowStart", "policy", "policyVersion"] as const) out[key].set(f[key], d);
    for (const key of ["position", "action", "item", "propensity", "hasProbabilities"] as const)
      out[key].set(f[key], s);
    out.candidates.set(f.candidates, c);
    out.probabilities.set(f.probabilities, p);
    out.rewardValue.set(f.rewardValue, r);
    shifted(out.slotStart, f.slotStart, d, s);
    shifted(out.candidateStart, f.candidateStart, d, c);
    shifted(out.probabilityStart, f.probabilityStart, s, p);
    shifted(out.rewardStart, f.rewardStart, s, r);
    size(f).forEach((v, i) => {
      at[i] = (at[i] as number) + v;
    });
  }
  return out;
}

/** Copies offsets `src[1..]` into `dst[at+1..]`, adding `base`. */
function shifted(dst: Int32Array, src: Int32Array, at: number, base: number): void {
  for (let i = 1; i < src.length; i++) dst[at + i] = (src[i] as number) + base;
}

/**
 * The log order every reader agrees on: timestamp, then append order (seq). Returns `f` itself when it
 * is already in that order (the common case: decisions are appended as they are made).
 */
export function inLogOrder(f: DecisionFacts): DecisionFacts {
  const { timestamp: ts, seq } = f;
  let sorted = true;
  for (let i = 1; i < f.decisions && sorted; i++) {
    const a = ts[i - 1] as number;
    const b = ts[i] as number;
    sorted = a < b || (a === b && (seq[i - 1] as number) < (seq[i] as number));
  }
  if (sorted) return f;
  const order = Array.from({ length: f.decisions }, (_, i) => i);
  order.sort((a, b) => (ts[a] as number) - (ts[b] as number) || (seq[a] as number) - (seq[b] as number));
  return gatherFacts(f, order);
}

/** Decisions with timestamp in [from, to). Returns `f` itself when all are in range. */
export function factsInRange(f: DecisionFacts, from: number | undefined, to: number | undefined): DecisionFacts {
  const lo = from ?? Number.NEGATIVE_INFINITY;
  const hi = to ?? Number.POSITIVE_INFINITY;
  const keep: number[] = [];
  for (let d = 0; d < f.decisions; d++) {
    const t = f.timestamp[d] as number;
    if (t >= lo && t < hi) keep.push(d);
  }
  return keep.length === f.decisions ? f : gatherFacts(f, keep);
}
