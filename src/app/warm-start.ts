import { z } from "zod";
import type { Policy } from "../bandit/policy.js";
import type { Clock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { timeSchema } from "../events/event-schema.js";
import { roundFeedback } from "../ope/logged-round.js";
import { readDecisionLog } from "../ope/sources/loopwise-source.js";

/** Updates between yields to the event loop (~0.1 s of the default policy's updates). */
const UPDATES_PER_TURN = 2000;

/** `warmStart` of a policy registration: true (the whole log) or a range of decision times. */
export const warmStartSchema = z.union([
  z.literal(true),
  z.strictObject({ from: timeSchema.optional(), to: timeSchema.optional() }),
]);

export interface WarmStartRange {
  /** Decisions at or after this time (epoch ms); default: the start of the log. */
  from?: number;
  /** Decisions before this time; default and latest: one join window before now, so every window is closed. */
  to?: number;
}

export interface WarmStartResult {
  decisions: number;
  /** Slot-rounds the policy learned from (one update each). */
  rounds: number;
  from: number | null;
  to: number;
  seconds: number;
}

/**
 * Trains a policy on the decision log before it serves: every resolved slot of every decision in the range,
 * in log order, becomes one update with its logged action, reward and propensity, as if the policy had
 * been there. The model-based policies learn from any logged action (a regression on what was shown), so a
 * candidate starts its rollout knowing what the log knows instead of competing, cold, at 1% of traffic
 * against an incumbent trained on all of it. The range ends one join window before now: a decision whose
 * window is still open would count only if it was rewarded, and that would teach the policy optimism.
 * The same replay `learn:` targets evaluate offline (ope/targets.ts), without the distributions.
 */
export async function warmStart(
  deps: { decisions: DecisionStore; joinConfig: JoinConfig; clock: Clock },
  policy: Policy,
  range: WarmStartRange = {},
): Promise<WarmStartResult> {
  const started = performance.now();
  const now = deps.clock.now();
  const to = Math.min(range.to ?? Number.POSITIVE_INFINITY, now - deps.joinConfig.windowMs);
  const log = await readDecisionLog(deps.decisions, {
    ...(range.from !== undefined ? { from: range.from } : {}),
    to,
    join: deps.joinConfig,
    now,
    // Yield between batches: a long log must not stall the requests this process serves meanwhile.
    onBatch: () => new Promise<void>((resolve) => setImmediate(resolve)),
  });
  for (let i = 0; i < log.rounds.length; i += UPDATES_PER_TURN) {
    const end = Math.min(log.rounds.length, i + UPDATES_PER_TURN);
    for (let j = i; j < end; j++) policy.update(roundFeedback(log.rounds[j]!));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const decisions = new Set(log.rounds.map((r) => r.decisionId)).size;
  return {
    decisions,
    rounds: log.rounds.length,
    from: range.from ?? null,
    to,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}
