import type { KnnIndex } from "./knn-index.js";
import type { KnnSessionState } from "./knn-session-state.js";
import type { KnnConfig } from "./session-knn.js";

const MEMO = 1024;

/**
 * The per-request end of session-kNN over a KnnSessionState: similarities of the `sample` most recent
 * candidate sessions, then the `k` nearest, best first. Buffers are typed arrays owned by the scorer and
 * reused, so a request allocates nothing here. Bit-identical to the direct path in session-knn.ts: each sum
 * adds the same terms in the same order (prefix items in first-occurrence order), and the neighbour order
 * (similarity desc, then more recent session first) is a strict total order, so sorting is unambiguous.
 */
export class Finisher {
  /** Similarity of the c-th candidate (union position c). */
  private readonly sims: Float64Array;
  private readonly heap: Int32Array;
  private readonly bits = new Int32Array(32);
  private readonly terms = new Float64Array(32);
  /**
   * V-SKNN's similarity depends on the mask alone, so with masks below MEMO (slots 0..9, i.e. windows of up
   * to 10 distinct items) each distinct mask is summed once and the selection is a counting sort by mask.
   */
  private readonly memoSim = new Float64Array(MEMO);
  private readonly memoStamp = new Uint32Array(MEMO);
  private readonly groupOf = new Int32Array(MEMO);
  private readonly masks = new Int32Array(MEMO);
  private readonly start = new Int32Array(MEMO);
  private memoGen = 0;
  private maskCount = -1;
  /** Output of `nearest`: neighbour sessions and their similarities, best first. */
  readonly neighbours: Int32Array;
  readonly neighbourSims: Float64Array;
  neighbourCount = 0;

  constructor(sample: number, k: number) {
    this.sims = new Float64Array(Math.max(1, sample));
    this.heap = new Int32Array(Math.max(1, k));
    this.neighbours = new Int32Array(Math.max(1, k));
    this.neighbourSims = new Float64Array(Math.max(1, k));
  }

  /** Fills sims for the first min(sample, size) union sessions; returns that count. */
  similarities(
    st: KnnSessionState,
    prefix: readonly number[],
    L: number,
    ix: KnnIndex,
    cfg: KnnConfig,
    weight: Float64Array,
    idf: Float64Array,
  ): number {
    const n = prefix.length;
    const { bits, terms, sims } = this;
    const sknn = cfg.variant === "sknn";
    for (let t = 0; t < n; t++) {
      const i = prefix[t]!;
      bits[t] = 1 << st.slotOf(i);
      terms[t] = sknn ? 1 : weight[i]! * idf[i]!;
    }
    const count = Math.min(cfg.sample, st.size);
    const { sess, mask } = st;
    let highest = 0;
    for (let t = 0; t < n; t++) highest |= bits[t]!;
    this.maskCount = -1;
    if (!sknn && highest > 0 && highest < MEMO) return this.byMask(st, count, n, L);
    for (let c = 0; c < count; c++) {
      const m = mask[c]!;
      let acc = 0;
      for (let t = 0; t < n; t++) if ((m & bits[t]!) !== 0) acc += terms[t]!;
      if (sknn) {
        const s = sess[c]!;
        sims[c] = acc / Math.sqrt(n * (ix.setOffsets[s + 1]! - ix.setOffsets[s]!));
      } else sims[c] = acc / L;
    }
    return count;
  }

  /** sims through the per-mask memo; records the distinct masks for `nearestByMask`. */
  private byMask(st: KnnSessionState, count: number, n: number, L: number): number {
    const { bits, terms, sims, memoSim, memoStamp, masks } = this;
    if (++this.memoGen === 0xffffffff) {
      memoStamp.fill(0);
      this.memoGen = 1;
    }
    const gen = this.memoGen;
    let d = 0;
    for (let c = 0; c < count; c++) {
      const m = st.mask[c]!;
      if (memoStamp[m] !== gen) {
        memoStamp[m] = gen;
        let acc = 0;
        for (let t = 0; t < n; t++) if ((m & bits[t]!) !== 0) acc += terms[t]!;
        memoSim[m] = acc / L;
        masks[d++] = m;
      }
      sims[c] = memoSim[m]!;
    }
    this.maskCount = d;
    return count;
  }

  /**
   * Counting sort of the candidates by group (distinct similarity values, descending), stable in c: the
   * order (similarity desc, c asc) that the heap gives, in O(count + masks²) with masks few.
   */
  private nearestByMask(st: KnnSessionState, count: number, k: number): number {
    const { masks, memoSim, groupOf, start } = this;
    const d = this.maskCount;
    for (let j = 1; j < d; j++) {
      const m = masks[j]!;
      let q = j - 1;
      while (q >= 0 && memoSim[masks[q]!]! < memoSim[m]!) {
        masks[q + 1] = masks[q]!;
        q--;
      }
      masks[q + 1] = m;
    }
    let g = -1;
    for (let j = 0; j < d; j++) {
      if (j === 0 || memoSim[masks[j]!] !== memoSim[masks[j - 1]!]) start[++g] = 0;
      groupOf[masks[j]!] = g;
    }
    for (let c = 0; c < count; c++) start[groupOf[st.mask[c]!]!]!++;
    let acc = 0;
    for (let q = 0; q <= g; q++) {
      const size = start[q]!;
      start[q] = acc;
      acc += size;
    }
    const h = Math.min(k, count);
    for (let c = 0; c < count; c++) {
      const m = st.mask[c]!;
      const p = start[groupOf[m]!]!++;
      if (p < h) {
        this.neighbours[p] = st.sess[c]!;
        this.neighbourSims[p] = memoSim[m]!;
      }
    }
    this.neighbourCount = h;
    return h;
  }

  /** The k best of the first `count` candidates into `neighbours`/`neighbourSims`, best first. */
  nearest(st: KnnSessionState, count: number, k: number): number {
    const { heap, sims } = this;
    if (k <= 0) {
      this.neighbourCount = 0;
      return 0;
    }
    if (this.maskCount >= 0) return this.nearestByMask(st, count, k);
    let h = 0;
    for (let c = 0; c < count; c++) {
      if (h < k) {
        heap[h] = c;
        siftUp(heap, h++, sims);
      } else if (better(sims, c, heap[0]!)) {
        heap[0] = c;
        siftDown(heap, h, sims);
      }
    }
    // Pop the worst to the back: the output is best first.
    for (let o = h - 1; o >= 0; o--) {
      const c = heap[0]!;
      this.neighbours[o] = st.sess[c]!;
      this.neighbourSims[o] = sims[c]!;
      heap[0] = heap[o]!;
      siftDown(heap, o, sims);
    }
    this.neighbourCount = h;
    return h;
  }
}

/** Candidate c beats d: higher similarity, ties to the more recent session (smaller c, as sess is ascending). */
function better(sims: Float64Array, c: number, d: number): boolean {
  const a = sims[c]!;
  const b = sims[d]!;
  return a > b || (a === b && c < d);
}

// Min-heap on "better" over heap[0, size): the root is the worst kept candidate.
function siftUp(h: Int32Array, j: number, sims: Float64Array): void {
  while (j > 0) {
    const p = (j - 1) >> 1;
    if (!better(sims, h[p]!, h[j]!)) break;
    const t = h[p]!;
    h[p] = h[j]!;
    h[j] = t;
    j = p;
  }
}

function siftDown(h: Int32Array, size: number, sims: Float64Array): void {
  let j = 0;
  for (;;) {
    const l = 2 * j + 1;
    const r = l + 1;
    let m = j;
    if (l < size && better(sims, h[m]!, h[l]!)) m = l;
    if (r < size && better(sims, h[m]!, h[r]!)) m = r;
    if (m === j) return;
    const t = h[m]!;
    h[m] = h[j]!;
    h[j] = t;
    j = m;
  }
}
