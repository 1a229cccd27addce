import { performance } from "node:perf_hooks";
import type { AggregateEntry, AggregatorLimits } from "../src/app/minute-aggregates.js";
import { MinuteAggregator } from "../src/app/minute-aggregates.js";
import { realisticDecision } from "../src/decisions/test-fixtures.js";
import {
  AttributionCheckpoints,
  decodeAttribution,
  encodeAttribution,
  restoreAttribution,
} from "../src/duties/dashboard-fold-checkpoint.js";
import { FoldFeed } from "../src/duties/dashboard-fold-feed.js";
import { encodeDecision } from "../src/storage/sqlite/decision-store-sqlite.js";
import type { StreamEntry } from "../src/stream/stream-entry.js";

const START = Date.UTC(2026, 11, 6, 12);
const WINDOW = 10 * 60_000;
const limits: AggregatorLimits = {
  retentionMs: 14 * 86_400_000,
  rewardHorizonMs: 2 * WINDOW,
  sessionTtlMs: 2 * 3_600_000,
  maxTracked: 100_000,
};

/**
 * `npm run bench -- dashboard-fold [--decisions=20000] [--per-checkpoint=1000]`: what the `dashboard-fold` duty's
 * attribution checkpoint (duties/dashboard-fold-checkpoint.ts) writes for realistic decisions (10 slots, own user
 * and session each, a reward for every third): bytes a decision in deltas, the full's size, all bytes written over
 * the delta bytes (full rewrites included), and the restore's time. Then the embedded fold's cost of recording
 * changes (only the duty records them): apply with and without, alternately in one process, as a ratio.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args.find((a) => a.startsWith("--decisions="))?.slice(12) ?? 20_000);
  const every = Number(args.find((a) => a.startsWith("--per-checkpoint="))?.slice(17) ?? 1000);
  const entries = traffic(n);
  const feed = new FoldFeed(limits);
  const fold = new MinuteAggregator(limits);
  fold.recordChanges();
  const checkpoints = new AttributionCheckpoints();
  const parts: Uint8Array[] = [];
  let [deltaBytes, written, fulls, applied] = [0, 0, 0, 0];
  for (const entry of entries) {
    const aggregate = feed.toAggregate(entry, START);
    if (aggregate) fold.apply(aggregate);
    if (entry.kind === "decision" && ++applied % every === 0) {
      const part = checkpoints.next(fold, feed);
      checkpoints.accepted(part);
      written += part.bytes.length;
      if (part.full) {
        fulls++;
        parts.length = 0;
      } else deltaBytes += part.bytes.length;
      parts.push(part.bytes);
    }
  }
  const fullNow = encodeAttribution({ fold: fold.attribution(true), feed: feed.decisionState(true) });
  const t0 = performance.now();
  const decoded = parts.map(decodeAttribution);
  const t1 = performance.now();
  restoreAttribution(parts, new MinuteAggregator(limits), new FoldFeed(limits));
  const t2 = performance.now();
  const result = {
    decisions: n,
    deltaBytesPerDecision: Math.round(deltaBytes / (n - every)),
    fullBytes: fullNow.length,
    fullBytesPerDecision: Math.round(fullNow.length / n),
    fulls,
    writtenOverDeltas: Number((written / deltaBytes).toFixed(2)),
    restoredParts: parts.length,
    restoredDecisions: decoded.reduce((a, d) => a + d.fold.decisions.length, 0),
    decodeMs: Math.round(t1 - t0),
    restoreMs: Math.round(t2 - t1),
    recordingCostRatio: recordingCost(entries),
  };
  console.log(result);
  return result;
}

/** Decision entries with realistic records, and a reward for every third, as the stream delivers them. */
function traffic(n: number): StreamEntry[] {
  const out: StreamEntry[] = [];
  for (let i = 0; i < n; i++) {
    const base = realisticDecision(i);
    const at = START + Math.floor((i * 20 * 60_000) / n);
    const record = {
      ...base,
      decisionId: `0193c4f2-${String(i).padStart(4, "0")}-7000-8000-${String(i).padStart(12, "0")}`,
      userId: `user-${i}`,
      sessionId: `sess-${i}`,
      timestamp: at,
      activated: true,
      activatedAt: at,
    };
    out.push({ kind: "decision", decision: encodeDecision(record) });
    if (i % 3 === 0) {
      const reward = { rewardId: `r${i}`, decisionId: record.decisionId, value: 1, type: "click", timestamp: at + 1 };
      out.push({ kind: "reward", reward: { ...reward, receivedAt: at + 1, source: "api" }, windowMs: WINDOW });
    }
  }
  return out;
}

/** Time of applying the entries with change recording over without, median of 5 alternating rounds. */
function recordingCost(entries: StreamEntry[]): number {
  const feed = new FoldFeed(limits);
  const aggregates = entries.map((e) => feed.toAggregate(e, START)).filter((a): a is AggregateEntry => a !== undefined);
  const time = (record: boolean) => {
    const fold = new MinuteAggregator(limits);
    if (record) fold.recordChanges();
    const t0 = performance.now();
    for (const a of aggregates) fold.apply(a);
    return performance.now() - t0;
  };
  const ratios: number[] = [];
  for (let round = 0; round < 5; round++) ratios.push(time(true) / time(false));
  ratios.sort((a, b) => a - b);
  return Number((ratios[2] as number).toFixed(2));
}
