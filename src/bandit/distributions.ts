/**
 * Small helpers shared by the policies: every distribution is over all candidates, with 0 for the ones
 * already placed in earlier slots (the conditional slate semantics of policy.ts).
 */

export function placedMask(n: number, placed: readonly number[] | undefined): Uint8Array {
  const mask = new Uint8Array(n);
  if (placed) for (const i of placed) if (i >= 0 && i < n) mask[i] = 1;
  return mask;
}

export function countUnplaced(mask: Uint8Array): number {
  let k = 0;
  for (let c = 0; c < mask.length; c++) if (mask[c] === 0) k++;
  return k;
}

/** Uniform over the unplaced candidates. */
export function uniform(mask: Uint8Array): Float64Array {
  const p = new Float64Array(mask.length);
  const k = countUnplaced(mask);
  if (k === 0) return p;
  for (let c = 0; c < mask.length; c++) if (mask[c] === 0) p[c] = 1 / k;
  return p;
}

/** Index of the highest score among unplaced candidates; ties go to the lowest index. -1 if none. */
export function argmax(scores: ArrayLike<number>, mask: Uint8Array): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < mask.length; c++) {
    if (mask[c] !== 0) continue;
    const s = scores[c] as number;
    if (best < 0 || s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

/** Point mass on `index`. */
export function pointMass(n: number, index: number): Float64Array {
  const p = new Float64Array(n);
  if (index >= 0) p[index] = 1;
  return p;
}

/** In place: p ← (1 − ε) p + ε · uniform(unplaced). Keeps every unplaced candidate's support ≥ ε/k. */
export function mixFloor(p: Float64Array, mask: Uint8Array, epsilon: number): Float64Array {
  if (epsilon <= 0) return p;
  const k = countUnplaced(mask);
  if (k === 0) return p;
  const base = epsilon / k;
  for (let c = 0; c < p.length; c++) p[c] = mask[c] === 0 ? (1 - epsilon) * p[c]! + base : 0;
  return p;
}
