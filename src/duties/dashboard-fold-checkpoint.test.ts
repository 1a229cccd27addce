import { describe, expect, it } from "vitest";
import { type AggregatorLimits, MinuteAggregator } from "../app/minute-aggregates.js";
import { makeDecision } from "../decisions/test-fixtures.js";
import { encodeDecision } from "../storage/sqlite/decision-store-sqlite.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import { AttributionCheckpoints, decodeAttribution, restoreAttribution } from "./dashboard-fold-checkpoint.js";
import { FoldFeed } from "./dashboard-fold-feed.js";

const START = Date.UTC(2026, 11, 6, 12);
const limits: AggregatorLimits = {
  retentionMs: 86_400_000,
  rewardHorizonMs: 1_200_000,
  sessionTtlMs: 7_200_000,
  maxTracked: 100_000,
};

/** Decision i (users share sessions), its activation when deferred, a reward, a purchase naming its session. */
function entries(i: number): StreamEntry[] {
  const t = START + i * 100;
  const deferred = i % 4 === 0;
  const record = makeDecision({
    decisionId: `decision-${i}`,
    timestamp: t,
    userId: `user-${i % 300}`,
    ...(i % 5 === 0 ? {} : { sessionId: `session-${i % 600}` }),
    slots: [0, 1, 2].map((p) => ({
      position: p,
      itemId: `item-${i}-${p}`,
      index: p,
      propensity: 1,
      probabilities: [1],
    })),
    activated: !deferred,
    ...(deferred ? {} : { activatedAt: t }),
  });
  const out: StreamEntry[] = [{ kind: "decision", decision: encodeDecision(record) }];
  if (deferred) out.push({ kind: "activate", decisionId: record.decisionId, at: t + 10 });
  const reward = { rewardId: `r${i}`, decisionId: record.decisionId, value: 1, type: "click", timestamp: t + 20 };
  out.push({ kind: "reward", reward: { ...reward, receivedAt: t + 20, source: "api" }, windowMs: 600_000 });
  const purchase = { eventId: `p${i}`, userId: record.userId, type: "purchase" as const, value: 2, timestamp: t + 30 };
  out.push({ kind: "event", event: record.sessionId ? { ...purchase, sessionId: record.sessionId } : purchase });
  return out;
}

describe("the dashboard fold's attribution checkpoint (a full, then deltas)", () => {
  it("restores from the last full and its deltas exactly the live state; fulls come as the deltas outweigh them", async () => {
    const fold = new MinuteAggregator(limits);
    fold.recordChanges();
    const feed = new FoldFeed(limits);
    const checkpoints = new AttributionCheckpoints();
    let parts: Uint8Array[] = [];
    const kinds: { full: boolean; bytes: number; deltasBefore: number; lastFull: number }[] = [];
    let [deltas, lastFull] = [0, 0];
    for (let batch = 0; batch < 20; batch++) {
      for (let i = batch * 40; i < (batch + 1) * 40; i++) {
        for (const e of entries(i)) {
          const a = feed.toAggregate(e, START);
          if (a) fold.apply(a);
        }
      }
      const part = checkpoints.next(fold, feed);
      checkpoints.accepted(part);
      kinds.push({ full: part.full, bytes: part.bytes.length, deltasBefore: deltas, lastFull });
      if (part.full) {
        parts = [part.bytes];
        [deltas, lastFull] = [0, part.bytes.length];
      } else {
        parts.push(part.bytes);
        deltas += part.bytes.length;
      }
    }
    // The first is a full; each later full came once the deltas since the last one weighed as much (64 KiB floor).
    expect(kinds[0]?.full).toBe(true);
    const laterFulls = kinds.slice(1).filter((k) => k.full);
    expect(laterFulls.length).toBeGreaterThan(0);
    for (const k of laterFulls) expect(k.deltasBefore).toBeGreaterThanOrEqual(Math.max(k.lastFull, 64 * 1024));
    expect(parts.length).toBeGreaterThan(1); // the restore below reads a full and deltas
    // A delta holds only what changed: a checkpoint with no new entries is (nearly) empty.
    const empty = checkpoints.next(fold, feed);
    expect(empty.full).toBe(false);
    expect(decodeAttribution(empty.bytes)).toEqual({ fold: { decisions: [], sessions: [], latest: [] }, feed: [] });

    const restoredFold = new MinuteAggregator(limits);
    const restoredFeed = new FoldFeed(limits);
    restoreAttribution(parts, restoredFold, restoredFeed);
    expect(restoredFold.attribution(true)).toEqual(fold.attribution(true));
    expect(restoredFeed.decisionState(true)).toEqual(feed.decisionState(true));
    expect(restoredFold.tracked).toEqual(fold.tracked);
  });

  it("refuses bytes that are not an attribution checkpoint", () => {
    expect(() => decodeAttribution(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/not a dashboard-fold attribution/);
  });
});
