import type { DecisionFacts } from "../../decisions/decision-facts.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import { concatFacts, inLogOrder } from "../../decisions/gather-facts.js";
import type { JoinConfig } from "../../decisions/join-config.js";
import { joinFacts, SLOT_DEFAULTED, SLOT_JOINED, SLOT_NOT_ACTIVATED } from "../../decisions/join-facts.js";
import { joinRewards } from "../../decisions/reward-join.js";
import type { LoggedColumns } from "../logged-columns.js";
import type { LoggedRound, LoggedRounds } from "../logged-round.js";

/**
 * Reads Loopwise's own decision log through the DecisionStore port and turns each resolved slot into a
 * round. Only slots whose reward is resolved by the join (joined or defaulted) are used; pending and
 * never-activated slots are counted in `skipped`, because evaluating on them would bias the value
 * toward the default reward.
 */
export interface ReadDecisionLogOptions {
  from?: number;
  to?: number;
  join: JoinConfig;
  /** The join is evaluated at this time (epoch ms): windows still open count as pending. */
  now: number;
  batchSize?: number;
  /** Called after each batch with the number of decisions read so far. */
  onBatch?: (decisionsRead: number) => void | Promise<void>;
}

export async function readDecisionLog(store: DecisionStore, options: ReadDecisionLogOptions): Promise<LoggedRounds> {
  const rounds: LoggedRound[] = [];
  const skipped: Record<string, number> = { pending: 0, not_activated: 0 };
  let decisions = 0;
  const range: { from?: number; to?: number; batchSize?: number } = { batchSize: options.batchSize ?? 5000 };
  if (options.from !== undefined) range.from = options.from;
  if (options.to !== undefined) range.to = options.to;
  for await (const batch of store.scan(range)) {
    for (const entry of batch) {
      const joined = joinRewards(entry, options.join, options.now);
      const { decision } = entry;
      // Exactly the PolicyInput of the rank use-case (app/rank.ts policyInputOf).
      const { context, features: profile } = decision;
      const placed: number[] = [];
      decision.slots.forEach((slot, k) => {
        const outcome = joined.slots[k];
        if (outcome?.reward !== undefined && (outcome.status === "joined" || outcome.status === "defaulted")) {
          rounds.push({
            decisionId: decision.decisionId,
            context,
            profile,
            candidates: decision.candidates,
            position: slot.position,
            action: slot.index,
            propensity: slot.propensity,
            probabilities: slot.probabilities,
            placedBefore: placed.slice(),
            reward: outcome.reward,
          });
        } else {
          const reason = outcome?.status ?? "pending";
          skipped[reason] = (skipped[reason] ?? 0) + 1;
        }
        placed.push(slot.index);
      });
    }
    decisions += batch.length;
    await options.onBatch?.(decisions);
  }
  return { source: rangeLabel(options), rounds, skipped, notes: logNotes(decisions, rounds.length, skipped) };
}

/**
 * The same log as `readDecisionLog` (same rounds, order, rewards, skipped counts and notes), read as
 * columns through `DecisionStore.scanFacts` and joined on columns (`joinFacts`): no record is parsed
 * or copied. Evaluate it with targets of COLUMNAR_TARGET_KINDS (see `canEvaluateColumns`).
 */
export async function readDecisionColumns(
  store: DecisionStore,
  options: ReadDecisionLogOptions,
): Promise<LoggedColumns> {
  if (!store.scanFacts) throw new Error("this decision store has no columnar scan (scanFacts)");
  const parts: DecisionFacts[] = [];
  let decisions = 0;
  const range: { from?: number; to?: number } = {};
  if (options.from !== undefined) range.from = options.from;
  if (options.to !== undefined) range.to = options.to;
  for await (const batch of store.scanFacts(range)) {
    parts.push(batch);
    decisions += batch.decisions;
    await options.onBatch?.(decisions);
  }
  const facts = inLogOrder(concatFacts(parts));
  const { status, reward } = joinFacts(facts, options.join, options.now);
  let n = 0;
  for (let s = 0; s < status.length; s++) if (status[s] === SLOT_JOINED || status[s] === SLOT_DEFAULTED) n++;
  const out: LoggedColumns = {
    source: rangeLabel(options),
    facts,
    slot: new Int32Array(n),
    decision: new Int32Array(n),
    reward: new Float64Array(n),
    skipped: { pending: 0, not_activated: 0 },
    notes: [],
  };
  let i = 0;
  for (let d = 0; d < facts.decisions; d++) {
    for (let s = facts.slotStart[d] as number; s < (facts.slotStart[d + 1] as number); s++) {
      const st = status[s];
      if (st === SLOT_JOINED || st === SLOT_DEFAULTED) {
        out.slot[i] = s;
        out.decision[i] = d;
        out.reward[i++] = reward[s] as number;
      } else if (st === SLOT_NOT_ACTIVATED) out.skipped.not_activated = (out.skipped.not_activated ?? 0) + 1;
      else out.skipped.pending = (out.skipped.pending ?? 0) + 1;
    }
  }
  out.notes = logNotes(decisions, n, out.skipped);
  return out;
}

function logNotes(decisions: number, rounds: number, skipped: Record<string, number>): string[] {
  const notes = [`${decisions} decisions read, ${rounds} resolved slots used as rounds`];
  const left = (skipped.pending ?? 0) + (skipped.not_activated ?? 0);
  if (left > 0) {
    notes.push(
      `${left} slots skipped: ${skipped.pending} with rewards still pending, ${skipped.not_activated} never activated`,
    );
  }
  if ((skipped.pending ?? 0) > 0) {
    // A slot joins early only when a reward arrived, so open windows over-represent rewarded rounds.
    notes.push(
      "Warning: some reward windows are still open; the rounds already joined are biased toward rewarded ones. End the range one join window before now (loopwise:[FROM..TO]) for an unbiased log.",
    );
  }
  return notes;
}

function rangeLabel(options: { from?: number; to?: number }): string {
  const iso = (t: number | undefined) => (t === undefined ? "" : new Date(t).toISOString());
  return options.from === undefined && options.to === undefined
    ? "loopwise:"
    : `loopwise:[${iso(options.from)}..${iso(options.to)}]`;
}
