import { type SessionSequence, toIndices } from "./session-dataset.js";
import type { SessionModel } from "./session-model.js";

/**
 * Next-item metrics (PROTOCOL.md): for each test session and each t, the model sees the prefix [i1..it] and
 * ranks all train items (score desc, train clicks desc, id asc); the target is i(t+1). HR@K and MRR@K are
 * micro-averaged over prediction events. The rank is counted from the sparse scores alone: unscored items
 * have score 0 and sit in popularity order, so the items before the target among them are counted from its
 * popularity rank, without sorting the catalogue.
 */
export interface NextItemMetrics {
  events: number;
  "HR@10": number;
  "MRR@10": number;
  "HR@20": number;
  "MRR@20": number;
  /** Mean wall time of one prediction (score + rank), milliseconds. */
  predictMsPerEvent: number;
}

export function evaluateNextItem(
  model: SessionModel,
  test: readonly SessionSequence[],
  now: () => number = () => performance.now(),
): NextItemMetrics {
  const index = model.vocab.itemIndex;
  let events = 0;
  const hits = { 10: 0, 20: 0 };
  const rr = { 10: 0, 20: 0 };
  let elapsed = 0;
  for (const s of test) {
    const items = toIndices(index, s.items);
    if (items.length !== s.items.length) throw new Error(`test session ${s.id} has items unknown to the model`);
    for (let t = 1; t < items.length; t++) {
      const started = now();
      const rank = targetRank(model, items.slice(0, t), items[t]!);
      elapsed += now() - started;
      events++;
      for (const k of [10, 20] as const) {
        if (rank <= k) {
          hits[k]++;
          rr[k] += 1 / rank;
        }
      }
    }
  }
  const per = (x: number) => (events === 0 ? 0 : x / events);
  return {
    events,
    "HR@10": per(hits[10]),
    "MRR@10": per(rr[10]),
    "HR@20": per(hits[20]),
    "MRR@20": per(rr[20]),
    predictMsPerEvent: per(elapsed),
  };
}

/** 1-based rank of `target` among all items under the protocol's order. */
export function targetRank(model: SessionModel, prefix: readonly number[], target: number): number {
  const buf = model.scoreIndices(prefix);
  const { popRank } = model.vocab;
  const st = buf.get(target);
  const pt = popRank[target]!;
  let beats = 0;
  let scoredBefore = 0;
  for (let k = 0; k < buf.count; k++) {
    const i = buf.touched[k]!;
    if (i === target) continue;
    const v = buf.scores[i]!;
    const pr = popRank[i]!;
    if (v > st || (v === st && pr < pt)) beats++;
    if (pr < pt) scoredBefore++;
  }
  const untouched = model.vocab.itemIds.length - buf.count - (buf.has(target) ? 0 : 1);
  const untouchedBeats = st < 0 ? untouched : st === 0 ? pt - scoredBefore : 0;
  return beats + untouchedBeats + 1;
}
