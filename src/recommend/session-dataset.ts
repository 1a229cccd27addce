/**
 * Training sessions in flat, indexed form (CSR arrays over dense item and session indices), built once and
 * shared by every model family: the kNN models keep it as their state, the others read it while training.
 * Typed arrays keep 10M clicks in a few hundred MB and serialise to disk as they are.
 */

/** One click of a session, as the evaluation files and the event log give them. */
export interface SessionClick {
  sessionId: string;
  itemId: string;
  /** Any monotone time unit; only order and the session end are used. */
  time: number;
}

/** One session's items, oldest first, and its end time (max click time). */
export interface SessionSequence {
  id: string;
  items: readonly string[];
  end: number;
}

export interface SessionDataset {
  readonly kind: "session-dataset";
  /** Item index -> id; `itemIndex` is the inverse. */
  readonly itemIds: readonly string[];
  readonly itemIndex: ReadonlyMap<string, number>;
  /** Train clicks per item (repeats counted). */
  readonly itemClicks: Int32Array;
  /** Item indices by popularity: clicks desc, then id ascending (as integers when both are numeric). */
  readonly popOrder: Int32Array;
  /** Item index -> position in popOrder (the protocol's tie-break, as one integer). */
  readonly popRank: Int32Array;
  /**
   * Sessions are numbered by recency: session 0 is the most recent (sessionEnd desc, then id desc), so
   * "more recent" is "smaller index" everywhere, with no lookup.
   */
  readonly sessionCount: number;
  readonly sessionEnd: Float64Array;
  /** Clicks of session s, in order, with repeats: seqItems[seqOffsets[s] .. seqOffsets[s+1]). */
  readonly seqOffsets: Int32Array;
  readonly seqItems: Int32Array;
  /** Distinct items of session s (first-occurrence order). */
  readonly setOffsets: Int32Array;
  readonly setItems: Int32Array;
  /** Sessions containing item i, most recent first: itemSessions[itemSessOffsets[i] .. itemSessOffsets[i+1]). */
  readonly itemSessOffsets: Int32Array;
  readonly itemSessions: Int32Array;
}

/** Orders ids as integers when both are numeric (the protocol's rule), else as strings. */
export function compareIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Groups clicks into sessions, each sorted by time (stable: equal times keep input order, P1's fileOrder). */
export function sessionsFromClicks(clicks: Iterable<SessionClick>): SessionSequence[] {
  const groups = new Map<string, SessionClick[]>();
  for (const c of clicks) {
    let g = groups.get(c.sessionId);
    if (!g) {
      g = [];
      groups.set(c.sessionId, g);
    }
    g.push(c);
  }
  const out: SessionSequence[] = [];
  for (const [id, g] of groups) {
    g.sort((a, b) => a.time - b.time);
    let end = Number.NEGATIVE_INFINITY;
    for (const c of g) if (c.time > end) end = c.time;
    out.push({ id, items: g.map((c) => c.itemId), end });
  }
  return out;
}

export function buildDataset(input: readonly SessionSequence[]): SessionDataset {
  const sessions = [...input].sort((a, b) => b.end - a.end || compareIds(b.id, a.id));
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  let clicks = 0;
  for (const s of sessions) {
    clicks += s.items.length;
    for (const id of s.items) {
      if (!itemIndex.has(id)) {
        itemIndex.set(id, itemIds.length);
        itemIds.push(id);
      }
    }
  }
  const n = sessions.length;
  const seqOffsets = new Int32Array(n + 1);
  const seqItems = new Int32Array(clicks);
  const itemClicks = new Int32Array(itemIds.length);
  let o = 0;
  sessions.forEach((s, si) => {
    seqOffsets[si] = o;
    for (const id of s.items) {
      const i = itemIndex.get(id) as number;
      seqItems[o++] = i;
      itemClicks[i]! += 1;
    }
  });
  seqOffsets[n] = o;
  const sessionEnd = Float64Array.from(sessions, (s) => s.end);
  const { setOffsets, setItems } = distinctPerSession(seqOffsets, seqItems, itemIds.length);
  const { popOrder, popRank } = popularityOrder(itemIds, itemClicks);
  const inverted = invertedIndex(setOffsets, setItems, itemIds.length);
  return {
    kind: "session-dataset",
    itemIds,
    itemIndex,
    itemClicks,
    popOrder,
    popRank,
    sessionCount: n,
    sessionEnd,
    seqOffsets,
    seqItems,
    setOffsets,
    setItems,
    ...inverted,
  };
}

function distinctPerSession(seqOffsets: Int32Array, seqItems: Int32Array, nItems: number) {
  const n = seqOffsets.length - 1;
  const stamp = new Int32Array(nItems).fill(-1);
  const setOffsets = new Int32Array(n + 1);
  const buf = new Int32Array(seqItems.length);
  let o = 0;
  for (let s = 0; s < n; s++) {
    setOffsets[s] = o;
    for (let p = seqOffsets[s]!; p < seqOffsets[s + 1]!; p++) {
      const i = seqItems[p]!;
      if (stamp[i] !== s) {
        stamp[i] = s;
        buf[o++] = i;
      }
    }
  }
  setOffsets[n] = o;
  return { setOffsets, setItems: buf.slice(0, o) };
}

export function popularityOrder(itemIds: readonly string[], itemClicks: Int32Array) {
  const order = Array.from({ length: itemIds.length }, (_, i) => i);
  order.sort((a, b) => itemClicks[b]! - itemClicks[a]! || compareIds(itemIds[a]!, itemIds[b]!));
  const popOrder = Int32Array.from(order);
  const popRank = new Int32Array(itemIds.length);
  order.forEach((i, r) => {
    popRank[i] = r;
  });
  return { popOrder, popRank };
}

/** Item -> sessions, listed most recent first (ascending session index). */
function invertedIndex(setOffsets: Int32Array, setItems: Int32Array, nItems: number) {
  const itemSessOffsets = new Int32Array(nItems + 1);
  for (let k = 0; k < setItems.length; k++) itemSessOffsets[setItems[k]! + 1]! += 1;
  for (let i = 0; i < nItems; i++) itemSessOffsets[i + 1]! += itemSessOffsets[i]!;
  const fill = itemSessOffsets.slice(0, nItems);
  const itemSessions = new Int32Array(setItems.length);
  for (let s = 0; s + 1 < setOffsets.length; s++) {
    for (let p = setOffsets[s]!; p < setOffsets[s + 1]!; p++) {
      const i = setItems[p]!;
      itemSessions[fill[i]!++] = s;
    }
  }
  return { itemSessOffsets, itemSessions };
}

/** Maps known item ids of a session to indices, oldest first; unknown items are dropped. */
export function toIndices(itemIndex: ReadonlyMap<string, number>, items: readonly string[]): number[] {
  const out: number[] = [];
  for (const id of items) {
    const i = itemIndex.get(id);
    if (i !== undefined) out.push(i);
  }
  return out;
}
