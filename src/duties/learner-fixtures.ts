import { pino } from "pino";
import { parseConfig } from "../app/config.js";
import { EngineMetrics } from "../app/metrics.js";
import type { PolicySpec } from "../bandit/policy.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import type { Clock } from "../core/clock.js";
import { Xoshiro128 } from "../core/rng.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { encodeDecision } from "../storage/sqlite/decision-store-sqlite.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import type { DutyContext, StreamAdapters } from "./duty.js";

/**
 * A decision stream as API nodes append it, for the learner's tests and bench: decisions of one policy (and
 * of another, which the learner must ignore), some deferred and activated later, rewards inside and after
 * their window, and what at-least-once delivery adds: re-appended decisions, rewards and activations (the
 * same ids), one entry appended a little out of time order. Deterministic from `seed`.
 */
export interface LearnerStreamOptions {
  policyId: string;
  decisions: number;
  windowMs: number;
  start: number;
  seed?: number;
  /** Candidates per decision (2 are shown). */
  candidates?: number;
  /** Milliseconds between decisions (default 1 s; dense streams hold many windows open). */
  spacingMs?: number;
}

/** A small hybrid Thompson policy: real posterior updates (shared + per-item parts), cheap to snapshot. */
export const TEST_POLICY_SPEC: PolicySpec = {
  type: "thompson",
  params: { model: "hybrid", armDims: 8, poolSize: 16, refreshEvery: 5, explorationScale: 0.5 },
  features: { dims: 1024, interactions: true },
};

interface Timed {
  at: number;
  entry: StreamEntry;
}

export function learnerStream(o: LearnerStreamOptions): StreamEntry[] {
  const rng = new Xoshiro128(o.seed ?? 7);
  const out: Timed[] = [];
  for (let i = 0; i < o.decisions; i++) {
    const spacing = o.spacingMs ?? 1_000;
    const t = o.start + i * spacing + Math.floor(rng.next() * spacing * 0.5);
    const policyId = i % 7 === 6 ? "other" : o.policyId;
    const deferred = i % 5 === 3;
    const record = decision(`d${i}`, t, policyId, deferred, o.candidates ?? 6, rng);
    const decisionEntry = encoded(record);
    out.push({ at: t, entry: decisionEntry });
    if (i % 11 === 4) out.push({ at: t + o.windowMs * 0.5, entry: decisionEntry }); // re-appended (retry)
    if (i % 13 === 5) out.push({ at: t + o.windowMs * 3, entry: decisionEntry }); // re-appended much later
    const activeAt = deferred ? t + 2_000 : t;
    if (deferred) {
      out.push({ at: activeAt, entry: { kind: "activate", decisionId: record.decisionId, at: activeAt } });
      out.push({ at: activeAt + 10, entry: { kind: "activate", decisionId: record.decisionId, at: activeAt + 10 } });
    }
    for (const [k, slot] of record.slots.entries()) {
      const roll = rng.next();
      if (roll < 0.5) continue; // no reward: the slot learns the default when its window closes
      const late = roll > 0.9;
      const receivedAt = late
        ? activeAt + o.windowMs + 100
        : activeAt + 500 + Math.floor(rng.next() * o.windowMs * 0.8);
      const reward: StreamEntry = {
        kind: "reward",
        reward: {
          rewardId: `r${i}-${k}`,
          decisionId: record.decisionId,
          itemId: slot.itemId,
          value: rng.next() < 0.7 ? 1 : 0.5,
          type: "click",
          timestamp: receivedAt,
          receivedAt,
          source: "api",
        },
        windowMs: o.windowMs,
      };
      out.push({ at: receivedAt, entry: reward });
      if (roll > 0.8) out.push({ at: receivedAt + 700, entry: reward }); // a retried reward, same id
    }
  }
  out.sort((a, b) => a.at - b.at);
  // One reward appended a little after a later entry (two API nodes committing out of order), within the slack.
  const r = out.findIndex((x, i) => i > 20 && x.entry.kind === "reward");
  if (r > 0) [out[r], out[r + 1]] = [out[r + 1]!, out[r]!];
  return out.map((x) => x.entry);
}

function decision(
  decisionId: string,
  t: number,
  policyId: string,
  deferred: boolean,
  n: number,
  rng: Xoshiro128,
): DecisionRecord {
  const candidates = Array.from({ length: n }, (_, j) => ({
    id: `item${(j + Math.floor(rng.next() * 20)) % 20}-${j}`,
    features: { price: Math.round(rng.next() * 1000) / 10, brand: `b${j % 3}` },
  }));
  const first = Math.floor(rng.next() * n);
  const second = (first + 1 + Math.floor(rng.next() * (n - 1))) % n;
  const slots = [first, second].map((index, position) => ({
    position,
    itemId: candidates[index]!.id,
    index,
    propensity: 0.2 + position * 0.1,
    probabilities: candidates.map((_, j) => (j === index ? 0.2 + position * 0.1 : 0.1)),
  }));
  const record: DecisionRecord = {
    decisionId,
    timestamp: t,
    userId: `u${Math.floor(rng.next() * 50)}`,
    context: { device: rng.next() < 0.5 ? "mobile" : "desktop", hour: Math.floor(rng.next() * 24) },
    features: { session_events: Math.floor(rng.next() * 10) },
    candidates,
    slots,
    policy: { id: policyId, type: "thompson", version: 1 },
    baselineItemId: candidates[0]!.id,
    activated: !deferred,
    candidateSource: "request",
    fallbacks: [],
  };
  if (!deferred) record.activatedAt = t;
  return record;
}

function encoded(record: DecisionRecord): StreamEntry {
  return { kind: "decision", decision: encodeDecision(record) };
}

/** A worker's duty context on the given adapters, for tests and the bench (silent logger, fresh metrics). */
export function learnerContext(parts: {
  adapters: StreamAdapters;
  policies: PolicyStore;
  clock: Clock;
  workerId: string;
  windowMs: number;
}): DutyContext {
  return {
    ...parts.adapters,
    config: parseConfig({ rewards: { window: parts.windowMs } }),
    clock: parts.clock,
    logger: pino({ level: "silent" }),
    metrics: new EngineMetrics(),
    decisions: new MemoryDecisionStore(),
    policies: parts.policies,
    workerId: parts.workerId,
  };
}
