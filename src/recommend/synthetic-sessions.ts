import { Xoshiro128 } from "../core/rng.js";
import type { SessionSequence } from "./session-dataset.js";

function zipfSampler(n: number, s: number, rng: Xoshiro128): () => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += 1 / (i + 1) ** s;
    cdf[i] = acc;
  }
  return () => {
    const u = rng.next() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * A deterministic synthetic click log for tests and benchmarks: sessions of geometric length (mean ≈ 5, at
 * least 2) drawn from topics of `topicSize` items; topics are Zipf-popular and items Zipf-popular within a
 * topic; a session switches topic with probability 0.15 a click and repeats the last item with 0.1. So
 * neighbours are mostly same-topic sessions and popularity is skewed, like real shops.
 */
export function syntheticSessions(opts: {
  events: number;
  items: number;
  seed?: number;
  topicSize?: number;
}): SessionSequence[] {
  const { events, items } = opts;
  const rng = new Xoshiro128(opts.seed ?? 1);
  const topicSize = opts.topicSize ?? 50;
  const topics = Math.ceil(items / topicSize);
  const ids = Array.from({ length: items }, (_, i) => String(i));
  const topic = zipfSampler(topics, 0.8, rng);
  const within = zipfSampler(topicSize, 1.1, rng);
  const sessions: SessionSequence[] = [];
  let total = 0;
  let t = 0;
  while (total < events) {
    const len = Math.min(200, 2 + Math.floor(Math.log(1 - rng.next()) / Math.log(0.72)));
    let tp = topic();
    const seq: string[] = [];
    for (let p = 0; p < len; p++) {
      if (rng.next() < 0.15) tp = topic();
      const prev = seq[seq.length - 1];
      seq.push(prev !== undefined && rng.next() < 0.1 ? prev : ids[Math.min(items - 1, tp * topicSize + within())]!);
    }
    t += 1 + Math.floor(rng.next() * 3);
    sessions.push({ id: String(sessions.length), items: seq, end: t });
    total += len;
  }
  return sessions;
}
