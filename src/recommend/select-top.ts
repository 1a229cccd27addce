/**
 * Bounded selection: the `k` best of `indices` under `better` (a strict order), best first, with a min-heap
 * so the cost is O(n · log k). `accept` runs only for an element that would enter the heap, so a costly
 * filter (availability) is called for few elements.
 */
export function selectTop(
  count: number,
  at: (t: number) => number,
  k: number,
  better: (a: number, b: number) => boolean,
  accept?: (i: number) => boolean,
): number[] {
  const heap: number[] = [];
  if (k <= 0) return heap;
  for (let t = 0; t < count; t++) {
    const i = at(t);
    if (heap.length >= k && !better(i, heap[0]!)) continue;
    if (accept && !accept(i)) continue;
    if (heap.length < k) {
      heap.push(i);
      siftUp(heap, heap.length - 1, better);
    } else {
      heap[0] = i;
      siftDown(heap, 0, better);
    }
  }
  return heap.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
}

// Min-heap on "better": the root is the worst of the kept elements.
function siftUp(h: number[], j: number, better: (a: number, b: number) => boolean): void {
  while (j > 0) {
    const p = (j - 1) >> 1;
    if (!better(h[p]!, h[j]!)) break;
    const t = h[p]!;
    h[p] = h[j]!;
    h[j] = t;
    j = p;
  }
}

function siftDown(h: number[], j: number, better: (a: number, b: number) => boolean): void {
  for (;;) {
    const l = 2 * j + 1;
    const r = l + 1;
    let m = j;
    if (l < h.length && better(h[m]!, h[l]!)) m = l;
    if (r < h.length && better(h[m]!, h[r]!)) m = r;
    if (m === j) return;
    const t = h[m]!;
    h[m] = h[j]!;
    h[j] = t;
    j = m;
  }
}

/**
 * selectTop specialised for ranking a score buffer's touched items (the request's last step): the order is
 * score desc then popularity rank asc (a strict order: ranks are distinct), compared inline on typed arrays
 * instead of through closures. Only positive scores that pass `accept` are kept; `accept` runs only for an
 * item that would enter the heap. Same result as selectTop with that order.
 */
export function selectTopScored(
  touched: Int32Array,
  count: number,
  scores: Float64Array,
  rank: Int32Array,
  k: number,
  accept: (i: number) => boolean,
): number[] {
  const heap: number[] = [];
  if (k <= 0) return heap;
  for (let t = 0; t < count; t++) {
    const i = touched[t]!;
    const s = scores[i]!;
    if (!(s > 0)) continue;
    if (heap.length >= k) {
      const w = heap[0]!;
      const sw = scores[w]!;
      if (!(s > sw || (s === sw && rank[i]! < rank[w]!))) continue;
    }
    if (!accept(i)) continue;
    if (heap.length < k) {
      heap.push(i);
      scoredUp(heap, heap.length - 1, scores, rank);
    } else {
      heap[0] = i;
      scoredDown(heap, heap.length, scores, rank);
    }
  }
  const out = new Array<number>(heap.length);
  for (let o = heap.length - 1; o >= 0; o--) {
    out[o] = heap[0]!;
    heap[0] = heap[o]!;
    scoredDown(heap, o, scores, rank);
  }
  return out;
}

function beats(scores: Float64Array, rank: Int32Array, a: number, b: number): boolean {
  const sa = scores[a]!;
  const sb = scores[b]!;
  return sa > sb || (sa === sb && rank[a]! < rank[b]!);
}

function scoredUp(h: number[], j: number, scores: Float64Array, rank: Int32Array): void {
  while (j > 0) {
    const p = (j - 1) >> 1;
    if (!beats(scores, rank, h[p]!, h[j]!)) break;
    const t = h[p]!;
    h[p] = h[j]!;
    h[j] = t;
    j = p;
  }
}

function scoredDown(h: number[], size: number, scores: Float64Array, rank: Int32Array): void {
  let j = 0;
  for (;;) {
    const l = 2 * j + 1;
    const r = l + 1;
    let m = j;
    if (l < size && beats(scores, rank, h[m]!, h[l]!)) m = l;
    if (r < size && beats(scores, rank, h[m]!, h[r]!)) m = r;
    if (m === j) return;
    const t = h[m]!;
    h[m] = h[j]!;
    h[j] = t;
    j = m;
  }
}
