import type { KnnIndex } from "./knn-index.js";

/** At most this many distinct window items fit a state's bit masks (one bit a slot; 31 keeps int32 math). */
export const MAX_SLOTS = 31;

/**
 * The neighbour-candidate set of one live session, kept between its requests so an appended event costs one
 * list merge instead of walking every window item's sessions again.
 *
 * For each distinct item of the session's window (a "slot"), the candidate sessions are its `sample` most
 * recent train sessions (session-knn.ts). The state keeps their union in ascending session index (= most
 * recent first) with a bit mask per session: bit `slot` is set when the slot's item lists that session. The
 * union depends only on the *set* of window items, so moving to any new window costs one merge per item that
 * came in and one pass for the items that left: O(|union| + sample) per changed item, no random access into
 * the per-session arrays of the whole train set. Similarity sums are not stored (every append shifts all
 * position weights); they are re-added from the masks per request in the same order as the direct path, so
 * scores are bit-identical to computing from scratch.
 */
export class KnnSessionState {
  /** Item of each slot, -1 when free. */
  readonly slotItems = new Int32Array(MAX_SLOTS).fill(-1);
  sess: Int32Array = new Int32Array(0);
  mask: Uint32Array = new Uint32Array(0);
  size = 0;

  /** Slot of item i, or -1. */
  slotOf(i: number): number {
    const s = this.slotItems;
    for (let k = 0; k < MAX_SLOTS; k++) if (s[k] === i) return k;
    return -1;
  }

  /** Approximate retained bytes (the session cache's size cap). */
  bytes(): number {
    return 200 + this.sess.byteLength + this.mask.byteLength;
  }
}

/** A sorted session list with masks: a state's arrays, or one of the scratch buffers. */
interface Run {
  sess: Int32Array;
  mask: Uint32Array;
  size: number;
}

/**
 * Two merge buffers shared by every state of one scorer (requests are synchronous on Node's thread):
 * successive merges of one move go back and forth between them, and only the final union is copied into
 * the state, sized to fit (so a cached state holds little slack).
 */
export class MergeScratch {
  private readonly runs: Run[] = [newRun(1024), newRun(1024)];
  private turn = 0;

  /** The next output buffer, with room for n entries (never the run being read). */
  next(n: number): Run {
    this.turn ^= 1;
    let r = this.runs[this.turn]!;
    if (r.sess.length < n) {
      r = newRun(Math.max(1024, Math.ceil(n * 1.25)));
      this.runs[this.turn] = r;
    }
    return r;
  }
}

function newRun(capacity: number): Run {
  return { sess: new Int32Array(capacity), mask: new Uint32Array(capacity), size: 0 };
}

/**
 * Brings `st` to the window whose distinct items are `items`: frees the slots of items that left, merges the
 * lists of items that came in. Returns false (state unusable, left empty) when the window has more than
 * MAX_SLOTS distinct items.
 */
export function moveWindow(
  st: KnnSessionState,
  items: readonly number[],
  ix: KnnIndex,
  sample: number,
  tmp: MergeScratch,
): boolean {
  if (items.length > MAX_SLOTS) {
    clear(st);
    return false;
  }
  let clearBits = 0;
  for (let k = 0; k < MAX_SLOTS; k++) {
    const i = st.slotItems[k]!;
    if (i >= 0 && !items.includes(i)) {
      clearBits |= 1 << k;
      st.slotItems[k] = -1;
    }
  }
  let cur: Run = st;
  for (const i of items) {
    if (st.slotOf(i) >= 0) continue;
    const slot = st.slotOf(-1);
    st.slotItems[slot] = i;
    const from = ix.itemSessOffsets[i]!;
    const to = Math.min(ix.itemSessOffsets[i + 1]!, from + sample);
    cur = mergeList(cur, ix.itemSessions, from, to, 1 << slot, clearBits, tmp);
    clearBits = 0;
  }
  if (clearBits !== 0) cur = mergeList(cur, ix.itemSessions, 0, 0, 0, clearBits, tmp);
  if (cur !== st) copyInto(st, cur);
  return true;
}

function clear(st: KnnSessionState): void {
  st.slotItems.fill(-1);
  st.size = 0;
}

function copyInto(st: KnnSessionState, run: Run): void {
  const n = run.size;
  if (st.sess.length < n) {
    const cap = n + (n >> 3) + 16;
    st.sess = new Int32Array(cap);
    st.mask = new Uint32Array(cap);
  }
  st.sess.set(run.sess.subarray(0, n));
  st.mask.set(run.mask.subarray(0, n));
  st.size = n;
}

/**
 * One pass over `src` and list[from, to) (both ascending) into the next scratch buffer: clears `clearBits`,
 * sets `bit` on sessions of the list, drops sessions left with no bit.
 */
function mergeList(
  src: Run,
  list: Int32Array,
  from: number,
  to: number,
  bit: number,
  clearBits: number,
  tmp: MergeScratch,
): Run {
  const out = tmp.next(src.size + (to - from));
  const os = out.sess;
  const om = out.mask;
  const us = src.sess;
  const um = src.mask;
  const n = src.size;
  const keep = ~clearBits;
  let a = 0;
  let b = from;
  let o = 0;
  while (a < n || b < to) {
    const sa = a < n ? us[a]! : 0x7fffffff;
    const sb = b < to ? list[b]! : 0x7fffffff;
    let m: number;
    let s: number;
    if (sa < sb) {
      s = sa;
      m = um[a++]! & keep;
    } else if (sb < sa) {
      s = sb;
      m = bit;
      b++;
    } else {
      s = sa;
      m = (um[a++]! & keep) | bit;
      b++;
    }
    if (m !== 0) {
      os[o] = s;
      om[o++] = m;
    }
  }
  out.size = o;
  return out;
}
